//! Which team packages a listing holds: MASV's v1.1 filters (`status`, `teamspaces`,
//! `tags`, `expiry_start`, `expiry_end`, as developer.massive.io "Managing packages"
//! documents them). The legacy routes know only the states, and a server may ignore a
//! filter, so what comes back is also checked here ([`TeamFilter::keeps`]).

use chrono::{DateTime, SecondsFormat, Utc};

use crate::{PackageState, TeamPackage};

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TeamFilter {
    /// In any of these states; none: every state.
    pub states: Vec<PackageState>,
    /// In one of these teamspaces (ids); none: any.
    pub teamspaces: Vec<String>,
    /// Tagged with one of these tags (ids); none: any.
    pub tags: Vec<String>,
    /// Expiring at or after this moment.
    pub expiry_from: Option<DateTime<Utc>>,
    /// Expiring at or before this moment.
    pub expiry_until: Option<DateTime<Utc>>,
}

impl TeamFilter {
    /// Only packages in these states.
    pub fn states(states: &[PackageState]) -> Self {
        Self {
            states: states.to_vec(),
            ..Self::default()
        }
    }

    /// The v1.1 query. Every state is named when none is chosen: without `status`, MASV
    /// lists only finalized and expired packages.
    pub fn v11_query(&self) -> Vec<(&'static str, String)> {
        let states: Vec<PackageState> = if self.states.is_empty() {
            PackageState::FILTERABLE.to_vec()
        } else {
            self.states.clone()
        };
        let mut query = vec![(
            "status",
            states
                .iter()
                .filter(|s| **s != PackageState::Unknown)
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(","),
        )];
        if !self.teamspaces.is_empty() {
            query.push(("teamspaces", self.teamspaces.join(",")));
        }
        if !self.tags.is_empty() {
            query.push(("tags", self.tags.join(",")));
        }
        let moment = |t: &DateTime<Utc>| t.to_rfc3339_opts(SecondsFormat::Secs, true);
        if let Some(t) = &self.expiry_from {
            query.push(("expiry_start", moment(t)));
        }
        if let Some(t) = &self.expiry_until {
            query.push(("expiry_end", moment(t)));
        }
        query
    }

    /// Whether `p` is one this filter asks for.
    pub fn keeps(&self, p: &TeamPackage) -> bool {
        let any = |wanted: &[String], have: Option<&str>| {
            wanted.is_empty() || have.is_some_and(|h| wanted.iter().any(|w| w == h))
        };
        (self.states.is_empty() || self.states.contains(&p.state))
            && any(&self.teamspaces, p.teamspace_id.as_deref())
            && any(&self.tags, p.tag.as_ref().map(|t| t.id.as_str()))
            && self
                .expiry_from
                .is_none_or(|from| p.expiry.is_some_and(|e| e >= from))
            && self
                .expiry_until
                .is_none_or(|until| p.expiry.is_some_and(|e| e <= until))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_state_is_named_when_none_is_chosen() {
        let q = TeamFilter::default().v11_query();
        assert_eq!(
            q,
            vec![("status", "new,finalized,expired,archived".to_owned())]
        );
        let q = TeamFilter {
            states: vec![PackageState::New],
            teamspaces: vec!["ts1".into(), "ts2".into()],
            tags: vec!["t1".into()],
            expiry_until: DateTime::from_timestamp(1_800_000_000, 0),
            ..TeamFilter::default()
        }
        .v11_query();
        assert_eq!(
            q,
            vec![
                ("status", "new".to_owned()),
                ("teamspaces", "ts1,ts2".to_owned()),
                ("tags", "t1".to_owned()),
                ("expiry_end", "2027-01-15T08:00:00Z".to_owned()),
            ]
        );
    }
}
