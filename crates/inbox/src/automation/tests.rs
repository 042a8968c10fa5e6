use super::*;

/// An absolute folder on this platform.
fn inbox() -> PathBuf {
    PathBuf::from(if cfg!(windows) {
        r"C:\media\in"
    } else {
        "/media/in"
    })
}

fn automation(kind: AutomationKind) -> Automation {
    Automation {
        id: "auto-1".into(),
        name: "Editorial".into(),
        kind,
        portal: Some("editorial".into()),
        destination: inbox(),
        create_package_folder: true,
        create_portal_subfolder: true,
        folder_template: None,
        effective_time: None,
        priority: 0,
        enabled: true,
    }
}

fn package() -> TeamPackage {
    serde_json::from_value(serde_json::json!({
        "id": "pkg-9", "name": "Day 2 / rushes", "sender": "dit@set.example",
        "state": "finalized", "created_at": "2026-11-20T12:00:00Z",
    }))
    .unwrap()
}

#[test]
fn options_lay_out_portal_and_package_folders() {
    let a = automation(AutomationKind::PortalDownload);
    assert_eq!(
        a.destination_for("Editorial", &package()),
        Destination::package_folder_in(inbox().join("Editorial"))
    );
    let flat = Automation {
        create_package_folder: false,
        create_portal_subfolder: false,
        ..a
    };
    assert_eq!(
        flat.destination_for("Editorial", &package()),
        Destination::straight(inbox())
    );
}

#[test]
fn a_template_fills_each_folder_and_keeps_names_inside_it() {
    let a = Automation {
        folder_template: Some("{portal}/{date}/{package}".into()),
        ..automation(AutomationKind::AllPortalsDownload)
    };
    a.validate().unwrap();
    let date = chrono::DateTime::parse_from_rfc3339("2026-11-20T12:00:00Z")
        .unwrap()
        .with_timezone(&Local)
        .format("%Y-%m-%d")
        .to_string();
    assert_eq!(
        a.destination_for("VFX / returns", &package()),
        Destination::package_folder_in(inbox().join("VFX _ returns").join(&date))
    );
    let b = Automation {
        folder_template: Some("{sender}/{package_id} {package}".into()),
        ..a
    };
    assert_eq!(
        b.destination_for("VFX", &package()),
        Destination::straight(inbox().join("dit@set.example").join("pkg-9 Day 2 _ rushes"))
    );
}

#[test]
fn bad_automations_say_what_is_wrong() {
    let bad = |a: Automation| a.validate().unwrap_err().to_string();
    let base = automation(AutomationKind::PortalDownload);
    assert!(
        bad(Automation {
            portal: None,
            ..base.clone()
        })
        .contains("names its portal")
    );
    assert!(
        bad(Automation {
            destination: "in".into(),
            ..base.clone()
        })
        .contains("absolute")
    );
    let t = |t: &str| {
        bad(Automation {
            folder_template: Some(t.into()),
            ..base.clone()
        })
    };
    assert!(
        t("{portal}/{client}").contains("'{client}'"),
        "{}",
        t("{portal}/{client}")
    );
    assert!(t("{portal").contains("unclosed"));
    assert!(t("../{portal}").contains("climb out"));
    assert!(t("/abs/{portal}").contains("climb out"));
    // Windows' own ways out: a root without a drive, a drive, a share, `..\`. (On
    // Unix a backslash is part of a name, and these are plain folder names.)
    if cfg!(windows) {
        for way_out in [
            r"\abs\{portal}",
            r"C:{portal}",
            r"\\nas\share\{portal}",
            r"..\{portal}",
        ] {
            assert!(t(way_out).contains("climb out"), "{way_out}");
        }
    }
}

#[test]
fn a_portal_automation_covers_its_portal_by_subdomain_or_id() {
    let a = automation(AutomationKind::PortalDownload);
    assert!(a.covers("p-1", "Editorial"));
    assert!(!a.covers("p-2", "vfx"));
    let by_id = Automation {
        portal: Some("p-2".into()),
        ..a
    };
    assert!(by_id.covers("p-2", "vfx"));
    assert!(automation(AutomationKind::AllPortalsDownload).covers("p-3", "live"));
}
