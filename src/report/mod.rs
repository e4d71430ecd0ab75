//! `driftlake report`: one self-contained HTML page (inline CSS and SVG, no
//! network, no JavaScript) and a Markdown twin for chat and pull requests
//! (issue 6). `model` is what a report shows, `load` reads it from a lake
//! with SQL, `html` and `markdown` render it without I/O.

pub mod html;
pub mod load;
pub mod markdown;
pub mod model;
mod svg;
