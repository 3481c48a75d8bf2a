//! Reading config.toml so that every mistake is reported in one run, not only the first one
//! serde meets: every syntax error the parser recovers from, then every value checked on its
//! own (each `key = value` of each section and each `[[key]]` table is deserialized alone, as
//! a one-entry document, so one bad value cannot hide the next); what passes is read on, so the
//! checks after this one see the rest. The invariant: the file is accepted exactly when serde
//! accepts it whole; only the number of errors reported differs.

use super::schema::ConfigFile;
use super::{Pos, Problem};
use serde::Deserialize;
use toml::de::{DeArray, DeTable, DeValue, Deserializer};
use toml::Spanned;

/// The file as [`ConfigFile`] without the entries that have problems, and every problem found
/// (in no particular order). `None` when the file is not TOML.
pub(crate) fn read(text: &str) -> (Option<ConfigFile>, Vec<Problem>) {
    let (table, syntax) = DeTable::parse_recoverable(text);
    if !syntax.is_empty() {
        return (None, syntax.iter().map(|e| problem(text, e)).collect());
    }
    let whole = table.span();
    let mut problems = Vec::new();
    let mut fails = |doc: DeTable<'_>| match ConfigFile::deserialize(Deserializer::from(
        Spanned::new(whole.clone(), doc),
    )) {
        Ok(_) => false,
        Err(e) => {
            problems.push(problem(text, &e));
            true
        }
    };
    // The same document without what failed, so the checks after this one still run on the rest.
    let mut clean = DeTable::new();
    for (name, value) in table.get_ref().iter() {
        match (name.get_ref().as_ref(), value.get_ref()) {
            ("agent" | "prompts" | "confirm", DeValue::Table(section)) => {
                let mut kept = DeTable::new();
                for (key, item) in section.iter() {
                    let one = DeTable::from_iter([(key.clone(), item.clone())]);
                    if !fails(wrap(name, Spanned::new(value.span(), DeValue::Table(one)))) {
                        kept.insert(key.clone(), item.clone());
                    }
                }
                clean.insert(
                    name.clone(),
                    Spanned::new(value.span(), DeValue::Table(kept)),
                );
            }
            ("key", DeValue::Array(entries)) => {
                let mut kept = DeArray::new();
                for entry in entries.iter() {
                    // Each field alone, then (if they all pass) the entry whole.
                    let fields: Vec<DeTable<'_>> = match entry.get_ref() {
                        DeValue::Table(fields) => fields
                            .iter()
                            .map(|(k, v)| DeTable::from_iter([(k.clone(), v.clone())]))
                            .collect(),
                        _ => Vec::new(),
                    };
                    let mut bad = false;
                    for field in fields {
                        let mut array = DeArray::new();
                        array.push(Spanned::new(entry.span(), DeValue::Table(field)));
                        bad |= fails(wrap(
                            name,
                            Spanned::new(value.span(), DeValue::Array(array)),
                        ));
                    }
                    if !bad {
                        let mut array = DeArray::new();
                        array.push(entry.clone());
                        bad = fails(wrap(
                            name,
                            Spanned::new(value.span(), DeValue::Array(array)),
                        ));
                    }
                    if !bad {
                        kept.push(entry.clone());
                    }
                }
                clean.insert(
                    name.clone(),
                    Spanned::new(value.span(), DeValue::Array(kept)),
                );
            }
            _ => {
                if !fails(wrap(name, value.clone())) {
                    clean.insert(name.clone(), value.clone());
                }
            }
        }
    }
    match ConfigFile::deserialize(Deserializer::from(Spanned::new(whole, clean))) {
        Ok(file) => (Some(file), problems),
        Err(e) => {
            problems.push(problem(text, &e));
            (None, problems)
        }
    }
}

/// A one-entry document `{name = value}`.
fn wrap<'i>(name: &Spanned<toml::de::DeString<'i>>, value: Spanned<DeValue<'i>>) -> DeTable<'i> {
    let mut doc = DeTable::new();
    doc.insert(name.clone(), value);
    doc
}

fn problem(text: &str, e: &toml::de::Error) -> Problem {
    Problem {
        pos: e.span().map(|span| Pos::at(text, span.start)),
        message: e.message().trim_end().to_owned(),
    }
}
