//! Node's `fields` table: every manifest field IMGAPI knows, in Node's
//! order, with whether an image's owner may change it after creation
//! (`mutable`) and whether an image made from another takes it from its
//! origin (`inheritable`).

/// One row of [`FIELDS`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Field {
    /// The manifest key.
    pub name: &'static str,
    /// Whether it may change once the image exists (IMGAPI's UpdateImage).
    pub mutable: bool,
    /// Whether an image created from another takes it from its origin when
    /// it has none (Node leaves the key out where this is false).
    pub inheritable: bool,
}

/// Node's `imgmanifest.fields`, row for row.
pub const FIELDS: &[Field] = &[
    Field { name: "v", mutable: false, inheritable: false },
    Field { name: "uuid", mutable: false, inheritable: false },
    Field { name: "urn", mutable: false, inheritable: false },
    Field { name: "owner", mutable: true, inheritable: false },
    Field { name: "name", mutable: true, inheritable: false },
    Field { name: "version", mutable: true, inheritable: false },
    Field { name: "description", mutable: true, inheritable: false },
    Field { name: "homepage", mutable: true, inheritable: false },
    Field { name: "eula", mutable: true, inheritable: false },
    Field { name: "disabled", mutable: false, inheritable: false },
    Field { name: "activated", mutable: false, inheritable: false },
    Field { name: "published_at", mutable: false, inheritable: false },
    Field { name: "state", mutable: false, inheritable: false },
    Field { name: "public", mutable: true, inheritable: false },
    Field { name: "type", mutable: false, inheritable: true },
    Field { name: "os", mutable: true, inheritable: true },
    Field { name: "origin", mutable: false, inheritable: false },
    Field { name: "error", mutable: false, inheritable: false },
    Field { name: "files", mutable: false, inheritable: false },
    Field { name: "icon", mutable: false, inheritable: false },
    Field { name: "acl", mutable: true, inheritable: false },
    Field { name: "requirements", mutable: true, inheritable: true },
    Field { name: "users", mutable: true, inheritable: true },
    Field { name: "billing_tags", mutable: true, inheritable: true },
    Field { name: "traits", mutable: true, inheritable: true },
    Field { name: "tags", mutable: true, inheritable: false },
    Field { name: "generate_passwords", mutable: true, inheritable: true },
    Field { name: "inherited_directories", mutable: true, inheritable: true },
    Field { name: "nic_driver", mutable: true, inheritable: true },
    Field { name: "disk_driver", mutable: true, inheritable: true },
    Field { name: "cpu_type", mutable: true, inheritable: true },
    Field { name: "image_size", mutable: true, inheritable: true },
    Field { name: "channels", mutable: true, inheritable: false },
];

#[cfg(test)]
mod tests {
    use super::*;

    /// The same names, in the same order, as the validator's table; the
    /// inheritable ones are [`crate::INHERITED_FIELDS`].
    #[test]
    fn tables_agree() {
        let names: Vec<&str> = FIELDS.iter().map(|f| f.name).collect();
        assert_eq!(names, crate::validate::FIELDS);
        let inherited: Vec<&str> = FIELDS.iter().filter(|f| f.inheritable).map(|f| f.name).collect();
        assert_eq!(inherited, crate::INHERITED_FIELDS);
    }
}
