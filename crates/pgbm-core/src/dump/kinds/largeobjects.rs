//! Large objects: metadata (`lo_create`, owner), comments, privileges and data.
//!
//! Large objects are dumped only in whole-database dumps that include data (pg_dump's
//! default without `-n`/`-t`/`-s`), and everything about them counts as data: they
//! appear with `--data-only` too. The layout depends on the server's major, because
//! pg_dump 17 changed it:
//!
//! * up to 16: one pre-data `BLOB` entry per large object (`lo_create` and its owner),
//!   followed by its comment, and a single `BLOBS` data entry holding every object's
//!   contents;
//! * 17 and later: objects with the same owner and ACL are grouped (up to 1000 per
//!   group) into one `BLOB METADATA` data entry and one `BLOBS` data entry, named
//!   `first..last`; a group's ACL is written once per object of the group.
//!
//! The contents are written as pg_dump does, in 16 kB `lowrite` calls inside a
//! transaction. They are read with `lo_get(oid, offset, length)` inside the dump's
//! snapshot, one bounded piece at a time, so a large object is never held in memory.

use super::KindPayload;
use crate::dump::catalog::{oid, query, text_array, Catalog};
use crate::dump::emit::{Emitter, Entry};
use crate::dump::model::{Graph, Obj, ObjKind, Payload};
use crate::dump::render::LargeObjectsPiece;
use crate::dump::select::Selection;
use crate::error::{Error, Result};
use crate::sql::{quote_ident, AclTarget};
use std::fmt::Write as _;
use tokio::io::{AsyncWrite, AsyncWriteExt};
use tokio_postgres::Client;

/// `pg_largeobject`'s OID: the catalog id of large objects (comments, labels).
const PG_LARGEOBJECT: u32 = 2613;

/// pg_dump's `lowrite` piece size (`LOBBUFSIZE`).
const LO_CHUNK: usize = 16384;

/// How much one `lo_get` call reads: a whole number of `lowrite` pieces.
const READ_SIZE: i32 = 64 * LO_CHUNK as i32;

/// pg_dump 17 puts at most this many large objects in one group.
const MAX_PER_GROUP: usize = 1000;

/// A large object's metadata.
#[derive(Debug, Clone)]
pub(crate) struct LargeObject {
    pub oid: u32,
    pub owner: String,
    pub acl: Option<Vec<String>>,
    pub acl_default: Vec<String>,
}

/// Large objects with the same owner and ACL, dumped together on 17+.
#[derive(Debug, Clone)]
pub(crate) struct Group {
    /// Indexes into [`LargeObjects::list`], in OID order.
    pub members: Vec<usize>,
    /// `first..last`, or the OID alone.
    pub name: String,
}

/// What this module reads.
#[derive(Debug, Default)]
pub(crate) struct LargeObjects {
    /// In OID order (≤16) or in (owner, ACL, OID) order (17+).
    pub list: Vec<LargeObject>,
    /// The 17+ groups.
    pub groups: Vec<Group>,
    /// The server's `server_version_num`, which decides the layout.
    pub version: i32,
}

/// Which object a graph object is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Item {
    /// One large object's metadata (≤16).
    Object(usize),
    /// A group's metadata (17+).
    Group(usize),
    /// All data (≤16, `None`) or a group's (17+).
    Data(Option<usize>),
}

/// Reads large object metadata, grouped as the server's pg_dump groups it.
pub(crate) async fn read(client: &Client, version: i32, catalog: &mut Catalog) -> Result<()> {
    let order = if version >= 170000 {
        "lomowner, lomacl::pg_catalog.text, oid"
    } else {
        "oid"
    };
    let sql = format!(
        "SELECT oid, lomowner, pg_catalog.pg_get_userbyid(lomowner) AS owner, \
         lomacl::text[] AS acl, lomacl::text AS acltext, \
         pg_catalog.acldefault('L', lomowner)::text[] AS acldefault \
         FROM pg_catalog.pg_largeobject_metadata ORDER BY {order}"
    );
    let los = &mut catalog.kinds.largeobjects;
    los.version = version;
    let mut current: Option<(u32, Option<String>)> = None;
    for row in query(client, "large objects", &sql, &[]).await? {
        let key = (
            oid(&row, "lomowner"),
            row.get::<_, Option<String>>("acltext"),
        );
        let i = los.list.len();
        los.list.push(LargeObject {
            oid: oid(&row, "oid"),
            owner: row.get("owner"),
            acl: row.get("acl"),
            acl_default: text_array(&row, "acldefault"),
        });
        let full = los
            .groups
            .last()
            .is_none_or(|g| g.members.len() >= MAX_PER_GROUP);
        if current.as_ref() != Some(&key) || full {
            los.groups.push(Group {
                members: Vec::new(),
                name: String::new(),
            });
            current = Some(key);
        }
        if let Some(g) = los.groups.last_mut() {
            g.members.push(i);
        }
    }
    for g in &mut los.groups {
        let first = los.list[g.members[0]].oid;
        let last = los.list[g.members[g.members.len() - 1]].oid;
        g.name = if g.members.len() > 1 {
            format!("{first}..{last}")
        } else {
            first.to_string()
        };
    }
    Ok(())
}

/// The metadata and data objects, in pg_dump's creation order. They exist in every
/// dump with large objects; [`emit`] decides whether they are written.
pub(crate) fn add_objects(g: &mut Graph, catalog: &Catalog, _sel: &Selection) {
    let los = &catalog.kinds.largeobjects;
    if los.list.is_empty() {
        return;
    }
    if los.version < 170000 {
        for (i, lo) in los.list.iter().enumerate() {
            g.add(Graph::new_obj(
                ObjKind::LargeObject,
                (PG_LARGEOBJECT, lo.oid),
                &lo.oid.to_string(),
                None,
                Payload::Kind(KindPayload::LargeObject(Item::Object(i))),
            ));
        }
        g.add(Graph::new_obj(
            ObjKind::LargeObjectData,
            (0, 0),
            "BLOBS",
            None,
            Payload::Kind(KindPayload::LargeObject(Item::Data(None))),
        ));
        return;
    }
    for (i, group) in los.groups.iter().enumerate() {
        let first = los.list[group.members[0]].oid;
        let meta = g.add(Graph::new_obj(
            ObjKind::LargeObjectMeta,
            (PG_LARGEOBJECT, first),
            &group.name,
            None,
            Payload::Kind(KindPayload::LargeObject(Item::Group(i))),
        ));
        let data = g.add(Graph::new_obj(
            ObjKind::LargeObjectData,
            (0, 0),
            &group.name,
            None,
            Payload::Kind(KindPayload::LargeObject(Item::Data(Some(i)))),
        ));
        g.add_dep(data, meta);
    }
}

/// The entries of one metadata or data object.
///
/// Large objects go into whole-database dumps that include data (pg_dump's
/// `--large-objects` default).
pub(crate) fn emit(e: &mut Emitter<'_>, _obj: &Obj, item: Item) -> Result<()> {
    if !e.sel.whole_database || e.opts.schema_only {
        return Ok(());
    }
    match item {
        Item::Object(i) => emit_object(e, i),
        Item::Group(i) => emit_group(e, i),
        Item::Data(group) => {
            emit_data(e, group);
            Ok(())
        }
    }
}

/// `SELECT pg_catalog.lo_unlink('oid');`, which `--if-exists` turns into a query
/// that tolerates a missing object (see [`drop_if_exists`]).
fn unlink(oid: u32) -> String {
    format!("SELECT pg_catalog.lo_unlink('{oid}');\n")
}

/// pg_dump's `DropLOIfExists` form of the `lo_unlink` lines of a drop statement.
pub(crate) fn drop_if_exists(drop: &str) -> String {
    drop.lines()
        .map(|line| {
            match line
                .strip_prefix("SELECT pg_catalog.lo_unlink('")
                .and_then(|rest| rest.strip_suffix("');"))
            {
                Some(oid) => format!(
                    "SELECT pg_catalog.lo_unlink(oid) FROM pg_catalog.pg_largeobject_metadata \
                     WHERE oid = '{oid}';\n"
                ),
                None => format!("{line}\n"),
            }
        })
        .collect()
}

/// A ≤16 `BLOB` entry, its comment and ACL.
fn emit_object(e: &mut Emitter<'_>, i: usize) -> Result<()> {
    let lo = &e.catalog.kinds.largeobjects.list[i];
    let name = lo.oid.to_string();
    let mut entry = Entry::new(name.clone(), "BLOB", None, &lo.owner);
    entry.create = format!("SELECT pg_catalog.lo_create('{name}');\n");
    entry.drop = unlink(lo.oid);
    entry.owner_object = Some(format!("LARGE OBJECT {name}"));
    entry.is_data = true;
    e.push(entry);
    comment(e, i);
    label(e, i);
    acl(e, &[i], None)
}

/// A 17+ `BLOB METADATA` entry, its objects' comments and the group's ACL.
fn emit_group(e: &mut Emitter<'_>, g: usize) -> Result<()> {
    let los = &e.catalog.kinds.largeobjects;
    let group = &los.groups[g];
    let first = &los.list[group.members[0]];
    let mut create = String::new();
    let mut owners = String::new();
    let mut drop = String::new();
    for &m in &group.members {
        let oid = los.list[m].oid;
        let _ = writeln!(create, "SELECT pg_catalog.lo_create('{oid}');");
        let _ = writeln!(
            owners,
            "ALTER LARGE OBJECT {oid} OWNER TO {};",
            quote_ident(&first.owner)
        );
        drop.push_str(&unlink(oid));
    }
    // pg_dump 17 writes one ALTER ... OWNER per object (unless --no-owner) after a
    // blank line, in the entry's own text; the renderer's "\n\n" ends the block.
    if !e.opts.no_owner {
        create.push('\n');
        create.push_str(&owners);
    }
    create.pop();
    // pg_dump 17 ends each group's unlink statements with a blank line.
    drop.push('\n');
    let mut entry = Entry::new(group.name.clone(), "BLOB METADATA", None, &first.owner);
    entry.create = create;
    entry.drop = drop;
    entry.is_data = true;
    e.push(entry);
    let members = group.members.clone();
    for &m in &members {
        comment(e, m);
        label(e, m);
    }
    let tag = (members.len() > 1).then(|| format!("LARGE OBJECTS {}", group.name));
    acl(e, &members, tag)
}

/// The comment of large object `i`, as a data entry.
fn comment(e: &mut Emitter<'_>, i: usize) {
    let lo = &e.catalog.kinds.largeobjects.list[i];
    let Some(text) = e.comment_of(PG_LARGEOBJECT, lo.oid, 0).map(str::to_string) else {
        return;
    };
    let (name, owner) = (lo.oid.to_string(), lo.owner.clone());
    let before = e.entries.len();
    e.comment("LARGE OBJECT", &name, None, &owner, &text);
    mark_data(e, before);
}

/// The security labels of large object `i`, as a data entry.
fn label(e: &mut Emitter<'_>, i: usize) {
    let lo = &e.catalog.kinds.largeobjects.list[i];
    let (oid, owner) = (lo.oid, lo.owner.clone());
    super::seclabels::label(
        e,
        "LARGE OBJECT",
        &oid.to_string(),
        None,
        &owner,
        PG_LARGEOBJECT,
        oid,
        0,
    );
}

/// The ACL of one large object or of a 17+ group (whose members share it): the
/// commands for the first object, repeated for each member, under `group_tag`.
fn acl(e: &mut Emitter<'_>, members: &[usize], group_tag: Option<String>) -> Result<()> {
    let lo = &e.catalog.kinds.largeobjects.list[members[0]];
    let Some(acl) = lo.acl.clone() else {
        return Ok(());
    };
    let base = lo.acl_default.clone();
    let owner = lo.owner.clone();
    let first = lo.oid.to_string();
    let target = AclTarget {
        kind: "LARGE OBJECT",
        name: &first,
        subname: None,
        namespace: None,
        owner: Some(&owner),
    };
    let before = e.entries.len();
    e.acl(&target, &acl, &base, format!("LARGE OBJECT {first}"))?;
    mark_data(e, before);
    if let (Some(tag), Some(entry)) = (group_tag, e.entries.get_mut(before)) {
        entry.tag = tag;
        entry.create = per_member(&entry.create, &first, members, e.catalog);
    }
    Ok(())
}

/// pg_dump 17's `IssueACLPerBlob`: each command written for `first` is repeated for
/// every member, command by command; the block ends with a single blank line.
fn per_member(commands: &str, first: &str, members: &[usize], catalog: &Catalog) -> String {
    let needle = format!("LARGE OBJECT {first} ");
    let mut out = String::new();
    for command in commands.lines() {
        for &m in members {
            let oid = catalog.kinds.largeobjects.list[m].oid;
            out.push_str(&command.replacen(&needle, &format!("LARGE OBJECT {oid} "), 1));
            out.push('\n');
        }
    }
    // The renderer's "\n\n" after the definition makes the single blank line.
    out.pop();
    out
}

/// Marks the entries pushed since `before` as data: everything about large objects is.
fn mark_data(e: &mut Emitter<'_>, before: usize) {
    for entry in &mut e.entries[before..] {
        entry.is_data = true;
    }
}

/// The `BLOBS` data entry of all objects (≤16) or of a group (17+).
fn emit_data(e: &mut Emitter<'_>, group: Option<usize>) {
    let los = &e.catalog.kinds.largeobjects;
    let (tag, owner, oids): (String, Option<String>, Vec<u32>) = match group {
        None => {
            let mut oids: Vec<u32> = los.list.iter().map(|l| l.oid).collect();
            oids.sort_unstable();
            ("BLOBS".to_string(), None, oids)
        }
        Some(g) => {
            let group = &los.groups[g];
            let first = &los.list[group.members[0]];
            let oids = group.members.iter().map(|&m| los.list[m].oid).collect();
            (group.name.clone(), Some(first.owner.clone()), oids)
        }
    };
    let mut entry = Entry::new(tag, "BLOBS", None, owner.as_deref().unwrap_or(""));
    entry.ownerless = owner.is_none();
    entry.is_data = true;
    entry.blobs = Some(oids);
    e.push(entry);
}

/// Writes a `BLOBS` piece into `out`: its header, then `BEGIN;`, each object's
/// contents as `lo_open`, 16 kB `lowrite` calls and `lo_close`, then `COMMIT;`.
/// Returns (bytes written, bytes of large object data).
pub(crate) async fn write_piece<W: AsyncWrite + Unpin>(
    client: &Client,
    piece: &LargeObjectsPiece,
    out: &mut W,
) -> Result<(u64, u64)> {
    let mut counter = Counter { out, bytes: 0 };
    counter.write(&piece.header).await?;
    counter.write("BEGIN;\n\n").await?;
    let mut data = 0u64;
    for &oid in &piece.oids {
        counter
            .write(&format!("SELECT pg_catalog.lo_open('{oid}', 131072);\n"))
            .await?;
        let mut offset = 0i64;
        loop {
            let chunk = read_chunk(client, oid, offset).await?;
            for part in chunk.chunks(LO_CHUNK) {
                counter.write(&lowrite(part)).await?;
            }
            data += chunk.len() as u64;
            offset += chunk.len() as i64;
            if is_last_chunk(&chunk) {
                break;
            }
        }
        counter.write("SELECT pg_catalog.lo_close(0);\n\n").await?;
    }
    counter.write("COMMIT;\n\n").await?;
    Ok((counter.bytes, data))
}

/// A writer that counts what goes through it.
struct Counter<'a, W> {
    out: &'a mut W,
    bytes: u64,
}

impl<W: AsyncWrite + Unpin> Counter<'_, W> {
    async fn write(&mut self, s: &str) -> Result<()> {
        self.out
            .write_all(s.as_bytes())
            .await
            .map_err(|e| Error::io("writing the dump", e))?;
        self.bytes += s.len() as u64;
        Ok(())
    }
}

/// Up to [`READ_SIZE`] bytes of large object `oid` from `offset`, read in the dump's
/// snapshot; fewer (or none) at the end.
async fn read_chunk(client: &Client, oid: u32, offset: i64) -> Result<Vec<u8>> {
    let row = client
        .query_one(
            "SELECT pg_catalog.lo_get($1::pg_catalog.oid, $2::pg_catalog.int8, $3::pg_catalog.int4)",
            &[&oid, &offset, &READ_SIZE],
        )
        .await
        .map_err(|e| Error::postgres(format!("reading large object {oid}"), e))?;
    Ok(row.get(0))
}

/// Whether a piece returned by [`read_chunk`] was the last one.
fn is_last_chunk(chunk: &[u8]) -> bool {
    chunk.len() < READ_SIZE as usize
}

/// `SELECT pg_catalog.lowrite(0, '\x...');` for one piece of at most [`LO_CHUNK`]
/// bytes (pg_dump's lower-case hex bytea literal).
fn lowrite(piece: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(piece.len() * 2 + 40);
    s.push_str("SELECT pg_catalog.lowrite(0, '\\x");
    for b in piece {
        s.push(HEX[usize::from(b >> 4)] as char);
        s.push(HEX[usize::from(b & 0xf)] as char);
    }
    s.push_str("');\n");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lowrite_is_lower_case_hex() {
        assert_eq!(
            lowrite(&[0x00, 0x01, 0xab, 0xff]),
            "SELECT pg_catalog.lowrite(0, '\\x0001abff');\n"
        );
    }

    #[test]
    fn if_exists_rewrites_each_unlink() {
        assert_eq!(
            drop_if_exists(&format!("{}{}", unlink(1), unlink(22))),
            "SELECT pg_catalog.lo_unlink(oid) FROM pg_catalog.pg_largeobject_metadata WHERE oid = '1';\n\
             SELECT pg_catalog.lo_unlink(oid) FROM pg_catalog.pg_largeobject_metadata WHERE oid = '22';\n"
        );
    }
}
