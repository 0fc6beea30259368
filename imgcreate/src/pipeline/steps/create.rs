//! Create: the analog becomes an incremental image on the base image, with
//! buildimage's additions to the manifest data, staged under temporary
//! names (the runner puts it in place after the analog is gone).

use serde_json::{Map, Value};

use crate::image::create::{create, CreateOptions};
use crate::pipeline::{js_text, Build, BuildError, BuildOptions, Step};

pub struct Create;

impl Step for Create {
    fn name(&self) -> &'static str {
        "create"
    }

    fn inputs(&self, build: &Build) -> Vec<(&'static str, String)> {
        let opts = build.opts;
        vec![
            ("manifest", Value::Object(opts.manifest.clone()).to_string()),
            ("compression", opts.compression.to_string()),
            ("platform stamp", opts.platform_stamp.clone().unwrap_or_default()),
        ]
    }

    fn run(&self, build: &mut Build) -> Result<(), BuildError> {
        let opts = build.opts;
        let prefix = opts.output_dir.join(format!("{}-{}", opts.prefix, js_text(&opts.manifest, "version")));
        let audit = build.packages.audit_report.clone();
        let create_opts = CreateOptions {
            dataset: build.analog.clone(),
            manifest: buildimage_manifest(opts),
            output_template: Some(prefix),
            compression: opts.compression,
            incremental: true,
            max_origin_depth: None,
            root: Some(opts.root.clone()),
            brand: None,
            platform: None,
            level: None,
            threads: None,
            extra_outputs: audit.map(|report| (".pkgaudit".to_string(), report.into_bytes())).into_iter().collect(),
        };
        let (zfs, db, log) = (build.zfs, build.db, build.log);
        let staged = create(zfs, db, build.journal_mut(), &create_opts, log, |_| {})?;
        build.staged = Some(staged);
        Ok(())
    }
}

/// buildimage's additions to the manifest data, in its order: `owner`,
/// `tags`, `requirements.min_platform["7.0"]`, `published_at`.
fn buildimage_manifest(opts: &BuildOptions) -> Map<String, Value> {
    let mut m = opts.manifest.clone();
    m.entry("owner").or_insert_with(|| Value::String("00000000-0000-0000-0000-000000000000".into()));
    m.entry("tags").or_insert_with(|| Value::Object(Map::new()));
    if let Some(stamp) = &opts.platform_stamp {
        let requirements = m.entry("requirements").or_insert_with(|| Value::Object(Map::new()));
        if let Some(r) = requirements.as_object_mut() {
            let min = r.entry("min_platform").or_insert_with(|| Value::Object(Map::new()));
            if let Some(min) = min.as_object_mut() {
                min.entry("7.0").or_insert_with(|| Value::String(stamp.clone()));
            }
        }
    }
    m.entry("published_at").or_insert_with(|| Value::String(imgmanifest::published_at_now()));
    m
}
