//! The run: wires source → decode → extract → sink (being written, issue 2).
