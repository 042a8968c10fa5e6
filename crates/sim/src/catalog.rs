//! Ready-made packages: the demo every new user sees, and the shapes the tests and
//! benchmarks need.

use crate::{Content, SimFile, SimPackage};

const MIB: u64 = 1024 * 1024;

/// A small production delivery: nested folders, unicode, an empty file, a zip entry
/// and one virus-flagged file, so the demo shows every part of the UI.
pub fn demo() -> SimPackage {
    let notes = "Inbound demo package\n\nThis package comes from Inbound's built-in simulator.\n\
                 Paste a real MASV link to download your own packages.\n";
    SimPackage::new("demo", "Inbound demo: Coastline rushes")
        .with_file(
            SimFile::new("d1", "A001_C002.mov", Content::generated(1, 48 * MIB))
                .in_folder("Coastline/Day 1"),
        )
        .with_file(
            SimFile::new("d2", "A001_C003.mov", Content::generated(2, 32 * MIB))
                .in_folder("Coastline/Day 1"),
        )
        .with_file(
            SimFile::new(
                "d3",
                "Scène 4 – take 2.wav",
                Content::generated(3, 12 * MIB),
            )
            .in_folder("Coastline/Audio"),
        )
        .with_file(
            SimFile::new("d4", "still_01.jpg", Content::generated(4, 3 * MIB))
                .in_folder("Coastline/Stills"),
        )
        .with_file(
            SimFile::new("d5", "still_02.jpg", Content::generated(5, 2 * MIB))
                .in_folder("Coastline/Stills"),
        )
        .with_file(SimFile::new(
            "d6",
            "Read me.txt",
            Content::bytes(notes.as_bytes()),
        ))
        .with_file(
            SimFile::new("d7", ".keep", Content::bytes(Vec::new())).in_folder("Coastline/Exports"),
        )
        .with_file(SimFile::new("d8", "invoice.pdf.exe", Content::generated(8, 300_000)).virus())
        .with_file(
            SimFile::new("dz", "Coastline.zip", Content::generated(9, 97 * MIB))
                .kind("zip_windows"),
        )
}

/// Names a hostile or careless sender could produce, beside ordinary nested files.
pub fn hostile() -> SimPackage {
    let small = |seed: u64| Content::generated(seed, 10_000 + seed * 37);
    SimPackage::new("hostile", "Hostile names")
        .with_file(SimFile::new("h1", "good.txt", small(1)).in_folder("a/b/c"))
        .with_file(SimFile::new("h2", "日本語 ファイル.txt", small(2)).in_folder("ünïcödé"))
        .with_file(SimFile::new("h3", "empty.bin", Content::bytes(Vec::new())))
        .with_file(SimFile::new("h4", "virus.exe", small(4)).virus())
        .with_file(SimFile::new("h5", "../../x", small(5)))
        .with_file(SimFile::new("h6", "/etc/passwd", small(6)))
        .with_file(SimFile::new("h7", "C:\\x", small(7)))
        .with_file(SimFile::new("h8", "CON.txt", small(8)))
        .with_file(SimFile::new("h9", "inner/slash.txt", small(9)))
        .with_file(SimFile::new("h10", "x", small(10)).in_folder("../../escape"))
        .with_file(SimFile::new("h11", "good.txt", small(11)).in_folder("a\\b\\c"))
        .with_file(SimFile::new("hz", "all.zip", small(12)).kind("zip_mac"))
}

/// Names senders on macOS and Linux use that Windows forbids or changes: device names,
/// reserved characters, trailing dots and spaces, names differing only in case, and a
/// path longer than Windows' old 260-character limit. Each file's bytes are its own.
pub fn windows_names() -> SimPackage {
    let small = |seed: u64| Content::generated(100 + seed, 1_000 + seed * 131);
    let deep = format!(
        "{}/{}",
        "Reel 1 ".repeat(14).trim_end(),
        "Scene 12 ".repeat(12).trim_end()
    );
    SimPackage::new("winnames", "Names Windows forbids")
        .with_file(SimFile::new("w1", "CON", small(1)))
        .with_file(SimFile::new("w2", "aux.wav", small(2)))
        .with_file(SimFile::new("w3", "COM1.txt", small(3)))
        .with_file(SimFile::new("w4", "a:b.mov", small(4)))
        .with_file(SimFile::new("w5", "what?.txt", small(5)))
        .with_file(SimFile::new("w6", "<pipe|star*>\"q\".txt", small(6)))
        .with_file(SimFile::new("w7", "trailing dot.", small(7)))
        .with_file(SimFile::new("w8", "trailing space ", small(8)))
        .with_file(SimFile::new("w9", "Case.txt", small(9)))
        .with_file(SimFile::new("w10", "case.txt", small(10)))
        .with_file(SimFile::new("w11", "NUL.tar.gz", small(11)).in_folder("lpt3"))
        .with_file(
            SimFile::new(
                "w12",
                format!("{}.mov", "A001_C002 ".repeat(8).trim_end()),
                small(12),
            )
            .in_folder(&deep),
        )
}

/// One file of `size` bytes.
pub fn large(link_id: &str, size: u64) -> SimPackage {
    SimPackage::new(link_id, "Large file").with_file(SimFile::new(
        "big",
        "big.bin",
        Content::generated(0xB16, size),
    ))
}

/// `count` small files spread over folders of 100.
pub fn many_files(link_id: &str, count: usize) -> SimPackage {
    let mut p = SimPackage::new(link_id, "Many files");
    for i in 0..count {
        let content = Content::generated(i as u64, 64 + (i as u64 % 200));
        p.files.push(
            SimFile::new(format!("f{i}"), format!("file-{i:05}.dat"), content)
                .in_folder(format!("batch-{:03}", i / 100)),
        );
    }
    p
}

/// `count` files whose sizes spread from `min` to `max` bytes, more of them small than
/// large (log-uniform), the same every run; in folders of 100. The benchmark's "many
/// small files" package.
pub fn spread(link_id: &str, count: usize, min: u64, max: u64) -> SimPackage {
    let mut p = SimPackage::new(link_id, "Spread delivery");
    let (lo, hi) = ((min.max(1) as f64).ln(), (max.max(min).max(1) as f64).ln());
    for i in 0..count {
        // A fixed pseudo-random point in [0, 1) per file (splitmix64 of its index).
        let mut z = (i as u64)
            .wrapping_add(1)
            .wrapping_mul(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        let unit = (z ^ (z >> 31)) as f64 / u64::MAX as f64;
        let size = (lo + unit * (hi - lo)).exp().round() as u64;
        p.files.push(
            SimFile::new(
                format!("p{i}"),
                format!("clip-{i:05}.mxf"),
                Content::generated(20_000 + i as u64, size.clamp(min, max)),
            )
            .in_folder(format!("card-{:03}", i / 100)),
        );
    }
    p
}

/// A few large files and many small ones: the benchmark's package.
pub fn mixed(link_id: &str, large_files: usize, large_size: u64, small_files: usize) -> SimPackage {
    let mut p = SimPackage::new(link_id, "Mixed delivery");
    for i in 0..large_files {
        p.files.push(SimFile::new(
            format!("L{i}"),
            format!("reel-{i}.mov"),
            Content::generated(1000 + i as u64, large_size),
        ));
    }
    for i in 0..small_files {
        p.files.push(
            SimFile::new(
                format!("S{i}"),
                format!("frame-{i:04}.dpx"),
                Content::generated(5000 + i as u64, 256 * 1024),
            )
            .in_folder("frames"),
        );
    }
    p
}

/// The demo package behind a password (`letmein`), for trying the password prompt.
pub fn demo_with_password() -> SimPackage {
    let mut p = demo();
    p.link_id = "demo-locked".into();
    p.secret = "demo-locked-secret".into();
    p.package_id = "pkg-demo-locked".into();
    p.name = "Inbound demo (password protected)".into();
    p.with_password("letmein")
}

/// A link whose package has expired.
pub fn demo_expired() -> SimPackage {
    SimPackage::new("demo-expired", "Expired delivery")
        .with_file(SimFile::new("e1", "gone.mov", Content::generated(77, 1024)))
        .expired()
}

/// The demo team's id and API key (the simulator's, not a real MASV key).
pub const DEMO_TEAM_ID: &str = "team-demo";
pub const DEMO_API_KEY: &str = "sim-team-key-0001";

/// A team with packages in every state, two portals, and one package still uploading
/// to the Editorial portal for `upload` (finalized when it ends).
pub fn team(upload: std::time::Duration) -> (Vec<SimPackage>, crate::SimTeam) {
    use crate::{SimTeam, SimTeamPackage};
    let pkg = |id: &str, name: &str, seed: u64, sizes: &[u64]| {
        sizes
            .iter()
            .enumerate()
            .fold(SimPackage::new(id, name), |p, (i, size)| {
                p.with_file(SimFile::new(
                    format!("{id}-f{i}"),
                    format!("clip_{i:02}.mov"),
                    Content::generated(seed * 100 + i as u64, *size),
                ))
            })
    };
    let packages = vec![
        pkg("tfinal1", "Trailer v3 conform", 1, &[6 * MIB, 2 * MIB]),
        pkg("tfinal2", "Stills for poster", 2, &[3 * MIB]),
        pkg("tupload", "Day 2 rushes", 3, &[8 * MIB, 4 * MIB]),
        pkg("texpired", "Old selects", 4, &[MIB]),
        pkg("tarchived", "Archived VFX plates", 5, &[MIB]),
    ];
    let team = SimTeam::new(DEMO_TEAM_ID, DEMO_API_KEY)
        .with_portal("portal-edit", "Editorial")
        .with_portal("portal-vfx", "VFX returns")
        .with_package(SimTeamPackage::new("tfinal1", "finalized").in_portal("portal-edit"))
        .with_package(SimTeamPackage::new("tfinal2", "finalized"))
        .with_package(
            SimTeamPackage::new("tupload", "new")
                .in_portal("portal-edit")
                .uploading_for(upload),
        )
        .with_package(SimTeamPackage::new("texpired", "expired"))
        .with_package(SimTeamPackage::new("tarchived", "archived").in_portal("portal-vfx"));
    (packages, team)
}

/// A simulator on a free loopback port serving [`team`] (with its link packages).
pub async fn start_team(upload: std::time::Duration) -> Result<crate::Sim, crate::SimError> {
    let (packages, team) = team(upload);
    crate::Sim::start_full(
        std::net::SocketAddr::from(([127, 0, 0, 1], 0)),
        packages,
        None,
        Some(team),
    )
    .await
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    #[test]
    fn a_spread_package_keeps_its_sizes_in_range_more_small_than_large_and_the_same_each_time() {
        let (min, max) = (64 * 1024, 2 * 1024 * 1024);
        let p = super::spread("spread", 1000, min, max);
        let sizes: Vec<u64> = p.files.iter().map(|f| f.content.len()).collect();
        assert_eq!(sizes.len(), 1000);
        assert!(sizes.iter().all(|s| (min..=max).contains(s)));
        let mid = (min + max) / 2;
        let small = sizes.iter().filter(|&&s| s < mid).count();
        assert!(small > 700, "{small} of 1000 below the middle");
        assert!(sizes.iter().any(|&s| s > max * 9 / 10), "some near the top");
        let again: Vec<u64> = super::spread("spread", 1000, min, max)
            .files
            .iter()
            .map(|f| f.content.len())
            .collect();
        assert_eq!(sizes, again);
    }
}
