//! Ranked fuzzy search over service codes, names, Chinese names and aliases.

use std::sync::Arc;

use crate::catalogue::catalogue;
use crate::model::Service;

/// How many matches a lookup returns by default.
///
/// ```
/// let index = support_commands::ServiceIndex::new(support_commands::catalogue());
/// assert!(index.search("数据库", support_commands::DEFAULT_MATCHES).len() <= 5);
/// ```
pub const DEFAULT_MATCHES: usize = 5;

/// A search index over a service catalogue.
///
/// ```
/// use support_commands::{catalogue, ServiceIndex};
/// let index = ServiceIndex::new(catalogue());
/// let top = index.search("ec2", 3);
/// assert_eq!(top[0].service.code, "amazon-elastic-compute-cloud-linux");
/// ```
#[derive(Debug, Clone)]
pub struct ServiceIndex {
    services: Arc<Vec<Service>>,
    entries: Vec<Entry>,
}

#[derive(Debug, Clone)]
struct Entry {
    code: String,
    name: String,
    name_zh: String,
    aliases: Vec<String>,
    /// Words of the code and the English name.
    words: Vec<String>,
    /// Code, names and aliases on lines of their own: a query that is in none of them (most
    /// entries, for most queries) is ruled out with one search instead of one per field.
    all: String,
}

/// One search result.
///
/// ```
/// # use support_commands::{catalogue, ServiceIndex};
/// let index = ServiceIndex::new(catalogue());
/// let hit = &index.search("负载均衡", 1)[0];
/// assert_eq!(hit.service.code, "elastic-load-balancing");
/// assert!(hit.score > 0);
/// ```
#[derive(Debug, Clone, Copy)]
#[allow(clippy::exhaustive_structs)]
pub struct Match<'a> {
    /// The service.
    pub service: &'a Service,
    /// Higher is better.
    pub score: u32,
}

fn normalise(text: &str) -> String {
    text.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

fn words(text: &str) -> impl Iterator<Item = String> + '_ {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
}

/// Whether the characters of `needle` appear in `hay` in order.
fn is_subsequence(needle: &str, hay: &str) -> bool {
    let mut hay = hay.chars();
    needle.chars().all(|c| hay.any(|h| h == c))
}

impl ServiceIndex {
    /// Builds the index (lower-cases and tokenises every entry once).
    ///
    /// ```
    /// let index = support_commands::ServiceIndex::new(support_commands::catalogue());
    /// # let _ = index;
    /// ```
    #[must_use]
    pub fn new(services: Arc<Vec<Service>>) -> Self {
        // A live DescribeServices answer has no Chinese names or aliases: borrow them from the
        // snapshot by service code, so `ec2` and `负载均衡` work against AWS too.
        let snapshot = catalogue();
        let entries = services
            .iter()
            .map(|s| {
                let known = snapshot.iter().find(|k| k.code == s.code);
                let name_zh = s
                    .name_zh
                    .as_deref()
                    .or_else(|| known.and_then(|k| k.name_zh.as_deref()));
                let aliases = if s.aliases.is_empty() {
                    known.map(|k| k.aliases.as_slice()).unwrap_or_default()
                } else {
                    &s.aliases
                };
                let code = s.code.to_lowercase();
                let name = normalise(&s.name);
                let name_zh = name_zh.map(normalise).unwrap_or_default();
                let aliases: Vec<String> = aliases.iter().map(|a| normalise(a)).collect();
                let all = [&code, &name, &name_zh]
                    .into_iter()
                    .chain(&aliases)
                    .map(String::as_str)
                    .collect::<Vec<_>>()
                    .join("\n");
                Entry {
                    words: words(&s.code).chain(words(&s.name)).collect(),
                    code,
                    name,
                    name_zh,
                    aliases,
                    all,
                }
            })
            .collect();
        Self { services, entries }
    }

    /// The catalogue the index was built from.
    ///
    /// ```
    /// let index = support_commands::ServiceIndex::new(support_commands::catalogue());
    /// assert!(!index.services().is_empty());
    /// ```
    #[must_use]
    pub fn services(&self) -> &Arc<Vec<Service>> {
        &self.services
    }

    /// The best `limit` matches for `query`, best first; empty if nothing matches.
    ///
    /// Ranking: exact code, alias, name; then names, codes and aliases containing the query
    /// (or contained in it, for Chinese phrases); then every query word a prefix of a word of
    /// the name or code; then the query's letters in order within the code.
    ///
    /// ```
    /// # use support_commands::{catalogue, ServiceIndex};
    /// let index = ServiceIndex::new(catalogue());
    /// assert_eq!(index.search("Elastic Load Balancing", 1)[0].service.code, "elastic-load-balancing");
    /// assert!(index.search("", 5).is_empty());
    /// ```
    #[must_use]
    pub fn search(&self, query: &str, limit: usize) -> Vec<Match<'_>> {
        let query = normalise(query);
        if query.is_empty() || limit == 0 {
            return Vec::new();
        }
        let query = Query {
            words: words(&query).collect(),
            compact: query.replace(' ', ""),
            long_enough: query.chars().count() >= 2,
            text: query,
        };
        let mut hits: Vec<(u32, usize)> = self
            .entries
            .iter()
            .enumerate()
            .filter_map(|(i, e)| {
                let score = score(e, &query);
                (score > 0).then_some((score, i))
            })
            .collect();
        hits.sort_by(|a, b| {
            b.0.cmp(&a.0)
                .then_with(|| {
                    self.entries[a.1]
                        .name
                        .len()
                        .cmp(&self.entries[b.1].name.len())
                })
                .then_with(|| a.1.cmp(&b.1))
        });
        hits.into_iter()
            .take(limit)
            .filter_map(|(score, i)| self.services.get(i).map(|service| Match { service, score }))
            .collect()
    }
}

/// The query, prepared once per search.
struct Query {
    text: String,
    words: Vec<String>,
    compact: String,
    long_enough: bool,
}

fn score(e: &Entry, q: &Query) -> u32 {
    let query = q.text.as_str();
    if e.code == query {
        return 1000;
    }
    if e.aliases.iter().any(|a| a == query) {
        return 900;
    }
    if e.name == query || e.name_zh == query {
        return 850;
    }
    let short_bonus = |len: usize| 50_u32.saturating_sub(u32::try_from(len / 4).unwrap_or(50));
    // Normalised text has no line breaks, so the query is in `all` only if it is in a field.
    let in_some_field = q.long_enough && e.all.contains(query);
    if in_some_field && (e.name.contains(query) || e.name_zh.contains(query)) {
        return 600 + short_bonus(e.name.len());
    }
    if in_some_field && e.code.contains(query) {
        return 550 + short_bonus(e.code.len());
    }
    if in_some_field && e.aliases.iter().any(|a| a.contains(query)) {
        return 500 + short_bonus(e.name.len());
    }
    if e.aliases
        .iter()
        .any(|a| a.len() >= 4 && query.contains(a.as_str()))
    {
        return 450;
    }
    if !q.words.is_empty()
        && q.words
            .iter()
            .all(|w| e.words.iter().any(|ew| ew.starts_with(w.as_str())))
    {
        return 400 + u32::try_from(q.words.len()).unwrap_or(0).min(50) * 10;
    }
    if q.compact.len() >= 3 && q.compact.is_ascii() && is_subsequence(&q.compact, &e.code) {
        return 100 + short_bonus(e.code.len());
    }
    0
}
