//! Readers honour the commit manifests (lake.md §2, "Partition replace"):
//! a file in a table directory that the table's manifest does not list is
//! not part of the table, even though a directory listing sees it.

use std::path::Path;
use std::process::Output;

use crate::idempotency::support::*;

fn driftlake(args: &[&str]) -> Output {
    bin()
        .args(args)
        .stdin(std::process::Stdio::null())
        .output()
        .expect("run driftlake")
}

/// `driftlake sql --format csv -e <query>` over `lake`: stdout, asserted exit 0.
fn sql_csv(lake: &Path, query: &str) -> String {
    let out = driftlake(&[
        "sql",
        "--lake",
        lake.to_str().expect("utf8"),
        "--format",
        "csv",
        "-e",
        query,
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf8")
}

/// Rows of every Parquet file directly in `dir`: what a reader that lists
/// the directory instead of reading the manifest counts.
fn directory_rows(dir: &Path) -> usize {
    std::fs::read_dir(dir)
        .expect("partition dir")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "parquet"))
        .map(|p| {
            read_parquet(&std::fs::read(&p).expect("read"))
                .iter()
                .map(|b| b.num_rows())
                .sum::<usize>()
        })
        .sum()
}

/// A lake written by `driftlake run` over the demo fixtures.
fn demo_lake(tmp: &Path) -> std::path::PathBuf {
    let src = tmp.join("src");
    copy_tree(&demo_dir(), &src);
    let lake = tmp.join("lake");
    let job = tmp.join("job.toml");
    std::fs::write(
        &job,
        format!(
            "[job]\nname = \"lake-read\"\n[lake]\nurl = {:?}\n[sources]\nsessrec = [{:?}]\nsession_logs = [{:?}]\n[stages]\nsessions = true\nattribution = true\n",
            lake.display().to_string(),
            src.join("artifacts").display().to_string(),
            src.join("logs").display().to_string(),
        ),
    )
    .expect("write job");
    let out = driftlake(&["run", job.to_str().expect("utf8"), "-q"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    lake
}

#[test]
fn sql_ignores_files_the_manifest_does_not_list() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let lake = demo_lake(tmp.path());
    let per_date = "select date, count(*) AS n from observations group by date order by date";
    let totals = "select (select count(*) from observations) AS o, \
                  (select count(*) from sessions) AS s, \
                  (select count(*) from attribution_state) AS a";
    let before_dates = sql_csv(&lake, per_date);
    let before_totals = sql_csv(&lake, totals);

    // Plant a stray: a copy of a committed observations part under a name
    // the manifest does not list (what a killed commit leaves behind).
    let manifest: serde_json::Value = serde_json::from_slice(
        &std::fs::read(lake.join("_manifest/observations.json")).expect("manifest"),
    )
    .expect("manifest json");
    let (key, entry) = manifest["partitions"]
        .as_object()
        .expect("partitions")
        .iter()
        .next()
        .expect("a partition");
    let file = entry["files"][0].as_str().expect("file name");
    let committed_rows = entry["rows"].as_u64().expect("rows") as usize;
    assert!(committed_rows > 0, "demo partition {key} is empty");
    let part_dir = lake.join("observations").join(key);
    assert_eq!(directory_rows(&part_dir), committed_rows);
    let stray = part_dir.join("part-ffffffffffffffff.parquet");
    assert_ne!(stray.file_name().and_then(|f| f.to_str()), Some(file));
    std::fs::copy(part_dir.join(file), &stray).expect("plant stray");

    // A directory reader now doubles the partition ...
    assert_eq!(directory_rows(&part_dir), 2 * committed_rows);
    // ... while `driftlake sql` reads through the manifest: nothing changes.
    assert_eq!(sql_csv(&lake, per_date), before_dates);
    assert_eq!(sql_csv(&lake, totals), before_totals);
    let date = key.strip_prefix("date=").expect("date= key");
    assert!(
        before_dates.contains(&format!("{date},{committed_rows}\n")),
        "{before_dates}"
    );

    // Tables without a manifest (the ledgers) are still read by listing.
    assert!(!lake.join("_manifest/_runs.json").exists());
    assert_eq!(sql_csv(&lake, "select count(*) AS n from _runs"), "n\n1\n");
}
