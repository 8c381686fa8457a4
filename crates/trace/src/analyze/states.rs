//! State changes reported by a stack, attached to the connection they describe.

use std::collections::HashMap;

use synack_core::tcp::State;

use super::Key;
use crate::model::{ConnectionTrace, Side, StateRecord, TimelineRef};
use crate::recorder::StateInput;

/// Attaches each state change to its connection and merges it into the timeline. Returns
/// how many matched no connection.
///
/// A 4-tuple can carry several connections over time. A change goes to the last connection
/// that started by its time, except entering SYN-SENT, which happens just before the SYN
/// that starts the connection it belongs to.
pub(crate) fn attach(conns: &mut [ConnectionTrace], states: &[StateInput]) -> usize {
    let mut by_key: HashMap<Key, Vec<usize>> = HashMap::new();
    for (i, c) in conns.iter().enumerate() {
        by_key
            .entry(Key::new(c.client, c.server))
            .or_default()
            .push(i);
    }
    let start = |c: &ConnectionTrace| c.segments.first().map_or(0, |s| s.t_ns);

    let mut unmatched = 0;
    let mut sorted: Vec<&StateInput> = states.iter().collect();
    sorted.sort_by_key(|s| (s.t_ns, s.order));
    for s in sorted {
        let Some(candidates) = by_key.get(&Key::new(s.local, s.remote)) else {
            unmatched += 1;
            continue;
        };
        let started = candidates
            .iter()
            .rev()
            .find(|&&i| start(&conns[i]) <= s.t_ns);
        let upcoming = candidates.iter().find(|&&i| start(&conns[i]) >= s.t_ns);
        let chosen = if s.to == State::SynSent {
            upcoming.or(started)
        } else {
            started.or(upcoming)
        };
        let Some(&i) = chosen else {
            unmatched += 1;
            continue;
        };
        let conn = &mut conns[i];
        let side = if s.local == conn.client {
            Side::Client
        } else {
            Side::Server
        };
        conn.states.push(StateRecord {
            t_ns: s.t_ns,
            side,
            from: s.from,
            to: s.to,
        });
        let index = conn.states.len() - 1;
        conn.timeline.push((s.order, TimelineRef::State(index)));
    }

    for conn in conns.iter_mut() {
        let (segments, states) = (&conn.segments, &conn.states);
        let t = |r: &TimelineRef| match *r {
            TimelineRef::Segment(i) => segments[i].t_ns,
            TimelineRef::State(i) => states[i].t_ns,
        };
        conn.timeline.sort_by_key(|(order, r)| (t(r), *order));
    }
    unmatched
}
