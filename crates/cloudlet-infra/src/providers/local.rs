//! hashicorp/local: `local_file` and `local_sensitive_file` resources and
//! the `local_file`/`local_sensitive_file` data sources. A file's id is
//! the SHA-1 of its content; reading a file whose content no longer
//! matches its id (edited by hand) or that is gone reports the object
//! gone, so the next plan shows the drift and the apply writes it again.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use md5::Digest as _;

use crate::decode::Mode;
use crate::value::{Type, Value};

use super::{Attr, Provider, ProviderError, Schema, get_str, set};

const HASHES: [&str; 6] =
    ["content_md5", "content_sha1", "content_sha256", "content_base64sha256", "content_sha512", "content_base64sha512"];

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// The computed digests of a file's bytes, by attribute name.
fn digests(bytes: &[u8]) -> Vec<(&'static str, String)> {
    let b64 = |b: &[u8]| base64::engine::general_purpose::STANDARD.encode(b);
    let sha256 = sha2::Sha256::digest(bytes);
    let sha512 = sha2::Sha512::digest(bytes);
    vec![
        ("id", hex(&sha1::Sha1::digest(bytes))),
        ("content_md5", hex(&md5::Md5::digest(bytes))),
        ("content_sha1", hex(&sha1::Sha1::digest(bytes))),
        ("content_sha256", hex(&sha256)),
        ("content_base64sha256", b64(&sha256)),
        ("content_sha512", hex(&sha512)),
        ("content_base64sha512", b64(&sha512)),
    ]
}

fn resource_schema(sensitive: bool) -> Schema {
    let perm = if sensitive { "0700" } else { "0777" };
    let mut content = Attr::optional("content", Type::String).force_new();
    let mut content_b64 = Attr::optional("content_base64", Type::String).force_new();
    if sensitive {
        content = content.sensitive();
        content_b64 = content_b64.sensitive();
    }
    let mut attrs = vec![
        Attr::computed("id", Type::String),
        content,
        content_b64,
        Attr::required("filename", Type::String).force_new(),
        Attr::optional("file_permission", Type::String).default(Value::string(perm)).force_new(),
        Attr::optional("directory_permission", Type::String).default(Value::string(perm)).force_new(),
        Attr::optional("source", Type::String).force_new(),
    ];
    attrs.extend(HASHES.iter().map(|h| Attr::computed(h, Type::String)));
    Schema::new(attrs)
}

fn data_schema(sensitive: bool) -> Schema {
    let mut content = Attr::computed("content", Type::String);
    let mut content_b64 = Attr::computed("content_base64", Type::String);
    if sensitive {
        content = content.sensitive();
        content_b64 = content_b64.sensitive();
    }
    let mut attrs =
        vec![Attr::computed("id", Type::String), Attr::required("filename", Type::String), content, content_b64];
    attrs.extend(HASHES.iter().map(|h| Attr::computed(h, Type::String)));
    Schema::new(attrs)
}

/// hashicorp/local, with files relative to `base_dir`.
#[derive(Debug)]
pub struct Local {
    base_dir: PathBuf,
    file: Schema,
    sensitive_file: Schema,
    data_file: Schema,
    data_sensitive_file: Schema,
}

impl Local {
    pub fn new(base_dir: PathBuf) -> Local {
        Local {
            base_dir,
            file: resource_schema(false),
            sensitive_file: resource_schema(true),
            data_file: data_schema(false),
            data_sensitive_file: data_schema(true),
        }
    }

    fn path(&self, filename: &str) -> PathBuf {
        let p = Path::new(filename);
        if p.is_absolute() { p.to_path_buf() } else { self.base_dir.join(p) }
    }

    fn content_of(&self, obj: &Value) -> Result<Vec<u8>, ProviderError> {
        if let Some(c) = get_str(obj, "content") {
            return Ok(c.as_bytes().to_vec());
        }
        if let Some(c) = get_str(obj, "content_base64") {
            return base64::engine::general_purpose::STANDARD.decode(c).map_err(|e| {
                ProviderError::new("Invalid content_base64", format!("The value is not valid base64: {e}"))
            });
        }
        if let Some(s) = get_str(obj, "source") {
            return std::fs::read(self.path(s)).map_err(|e| {
                ProviderError::new(
                    "Read local file error",
                    format!("An unexpected error occurred while reading the source file {s:?}: {e}"),
                )
            });
        }
        Ok(Vec::new())
    }
}

fn mode_bits(text: &str) -> Result<u32, ProviderError> {
    u32::from_str_radix(text, 8).map_err(|_| {
        ProviderError::new(
            "Invalid Attribute Value",
            format!("bad mode permission: string must be expressed in octal numeric notation, got: {text}"),
        )
    })
}

impl Provider for Local {
    fn name(&self) -> &'static str {
        "local"
    }
    fn source(&self) -> &'static str {
        "registry.terraform.io/hashicorp/local"
    }
    fn schema(&self, mode: Mode, type_name: &str) -> Option<&Schema> {
        match (mode, type_name) {
            (Mode::Managed, "local_file") => Some(&self.file),
            (Mode::Managed, "local_sensitive_file") => Some(&self.sensitive_file),
            (Mode::Data, "local_file") => Some(&self.data_file),
            (Mode::Data, "local_sensitive_file") => Some(&self.data_sensitive_file),
            _ => None,
        }
    }
    fn validate(&self, _type_name: &str, config: &Value) -> Result<(), ProviderError> {
        let given = ["content", "content_base64", "source"]
            .iter()
            .filter(|k| super::get(config, k).is_some_and(|v| !v.is_null()))
            .count();
        if given > 1 {
            return Err(ProviderError::new(
                "Invalid Attribute Combination",
                "These attributes cannot be configured together: [content,content_base64,source]",
            ));
        }
        for k in ["file_permission", "directory_permission"] {
            if let Some(p) = get_str(config, k) {
                mode_bits(p)?;
            }
        }
        Ok(())
    }
    fn apply(
        &self,
        _type_name: &str,
        prior: Option<&Value>,
        planned: Option<&Value>,
    ) -> Result<Option<Value>, ProviderError> {
        let Some(planned) = planned else {
            if let Some(p) = prior.and_then(|p| get_str(p, "filename")) {
                match std::fs::remove_file(self.path(p)) {
                    Ok(()) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(e) => return Err(ProviderError::new("Delete local file error", format!("{p}: {e}"))),
                }
            }
            return Ok(None);
        };
        let filename = get_str(planned, "filename").unwrap_or_default().to_owned();
        let path = self.path(&filename);
        let bytes = self.content_of(planned)?;
        let write_err = |e: std::io::Error| {
            ProviderError::new(
                "Create local file error",
                format!("An unexpected error occurred while writing the file {filename:?}: {e}"),
            )
        };
        if let Some(dir) = path.parent()
            && !dir.as_os_str().is_empty()
            && !dir.exists()
        {
            std::fs::create_dir_all(dir).map_err(write_err)?;
            let bits = mode_bits(get_str(planned, "directory_permission").unwrap_or("0777"))?;
            set_mode(dir, bits).map_err(write_err)?;
        }
        std::fs::write(&path, &bytes).map_err(write_err)?;
        let bits = mode_bits(get_str(planned, "file_permission").unwrap_or("0777"))?;
        set_mode(&path, bits).map_err(write_err)?;
        let mut new = planned.clone();
        for (k, v) in digests(&bytes) {
            set(&mut new, k, Value::string(v));
        }
        Ok(Some(new))
    }
    fn read(&self, _type_name: &str, state: &Value) -> Result<Option<Value>, ProviderError> {
        let Some(filename) = get_str(state, "filename") else { return Ok(Some(state.clone())) };
        match std::fs::read(self.path(filename)) {
            Ok(bytes) => {
                let id = hex(&sha1::Sha1::digest(&bytes));
                Ok((get_str(state, "id") == Some(id.as_str())).then(|| state.clone()))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(ProviderError::new("Read local file error", format!("{filename}: {e}"))),
        }
    }
    fn read_data(&self, type_name: &str, config: &Value) -> Result<Value, ProviderError> {
        let filename = get_str(config, "filename").unwrap_or_default().to_owned();
        let bytes = std::fs::read(self.path(&filename)).map_err(|e| {
            ProviderError::new(
                "Read local file data source error",
                format!("The file at given path cannot be read.\n\n+Original Error: open {filename}: {e}"),
            )
        })?;
        let sensitive = type_name == "local_sensitive_file";
        let mut obj: BTreeMap<String, Value> = BTreeMap::new();
        obj.insert("filename".into(), Value::string(filename));
        obj.insert("content".into(), Value::string(String::from_utf8_lossy(&bytes).into_owned()).mark_if(sensitive));
        obj.insert(
            "content_base64".into(),
            Value::string(base64::engine::general_purpose::STANDARD.encode(&bytes)).mark_if(sensitive),
        );
        for (k, v) in digests(&bytes) {
            obj.insert(k.to_owned(), Value::string(v));
        }
        Ok(Value::Object(obj))
    }
}

#[cfg(unix)]
fn set_mode(path: &Path, bits: u32) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(bits))
}

#[cfg(not(unix))]
fn set_mode(_path: &Path, _bits: u32) -> std::io::Result<()> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_reads_and_notices_hand_edits() {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = Local::new(dir.path().to_path_buf());
        let schema = p.schema(Mode::Managed, "local_file").expect("schema");
        let mut config: BTreeMap<String, Value> =
            schema.attrs.iter().map(|a| (a.name.to_owned(), Value::Null(a.ty.clone()))).collect();
        config.insert("filename".into(), Value::string("out/hello.txt"));
        config.insert("content".into(), Value::string("hello"));
        let planned = p.plan_change("local_file", None, &Value::Object(config)).expect("plan").planned;
        let state = p.apply("local_file", None, Some(&planned)).expect("apply").expect("object");
        assert_eq!(get_str(&state, "id"), Some("aaf4c61ddcc5e8a2dabede0f3b482cd9aea9434d"));
        assert_eq!(get_str(&state, "content_md5"), Some("5d41402abc4b2a76b9719d911017c592"));
        assert_eq!(std::fs::read_to_string(dir.path().join("out/hello.txt")).expect("file"), "hello");
        assert!(p.read("local_file", &state).expect("read").is_some());
        std::fs::write(dir.path().join("out/hello.txt"), "edited").expect("edit");
        assert!(p.read("local_file", &state).expect("read").is_none());
        let data = p
            .read_data("local_file", &Value::Object([("filename".to_owned(), Value::string("out/hello.txt"))].into()))
            .expect("data");
        assert_eq!(get_str(&data, "content"), Some("edited"));
        p.apply("local_file", Some(&state), None).expect("delete");
        assert!(!dir.path().join("out/hello.txt").exists());
    }
}
