//! Scope reach: a scope covers its node and the whole subtree below it and nothing else,
//! the ancestors of a scoped node are read-only passages, scopes add up, and no place is
//! given more than the scopes that cover it give.
//!
//! Paths are drawn from a tiny alphabet (`a`, `ab`, `b`, `b c`, `a.b`) so that shared
//! prefixes that stop inside a name (`a` and `ab`, `b` and `b c`) are common.

use cells_core::reach::{Reach, ScopeAt, reach};
use cells_core::{Rights, WorkspaceId};
use proptest::prelude::*;

const NAMES: [&str; 5] = ["a", "ab", "b", "b c", "a.b"];

/// Two workspaces, fixed for the whole run, picked by index.
fn workspaces() -> [WorkspaceId; 2] {
    static IDS: std::sync::OnceLock<[WorkspaceId; 2]> = std::sync::OnceLock::new();
    *IDS.get_or_init(|| [WorkspaceId::random(), WorkspaceId::random()])
}

/// A place in the tree: a workspace (by index) and the segments of a path inside it.
#[derive(Clone, Debug)]
struct Place {
    workspace: usize,
    segments: Vec<&'static str>,
}

impl Place {
    fn path(&self) -> String {
        self.segments.join("/")
    }

    fn id(&self) -> WorkspaceId {
        workspaces()[self.workspace]
    }
}

fn place(depth: std::ops::Range<usize>) -> impl Strategy<Value = Place> {
    (0..2usize, prop::collection::vec(prop::sample::select(NAMES.to_vec()), depth))
        .prop_map(|(workspace, segments)| Place { workspace, segments })
}

/// The rights a scope can give: `r`, `w` or `rw` (no text parses to none).
fn rights() -> impl Strategy<Value = Rights> {
    prop::sample::select(vec![Rights::READ, Rights::WRITE, Rights::READ_WRITE])
}

fn scopes() -> impl Strategy<Value = Vec<(Place, Rights)>> {
    prop::collection::vec((place(0..4), rights()), 0..6)
}

fn located(scopes: &[(Place, Rights)]) -> Vec<ScopeAt> {
    scopes.iter().map(|(at, rights)| ScopeAt { workspace: at.id(), path: at.path(), rights: *rights }).collect()
}

fn within(rights: Rights, limit: Rights) -> bool {
    rights.intersect(limit) == rights
}

/// The rule, stated on segments rather than strings: covered by every scope whose node is
/// this place or one of its ancestors; else a passage if a scope lies strictly below.
fn model(target: &Place, scopes: &[(Place, Rights)]) -> Reach {
    let same = scopes.iter().filter(|(at, _)| at.workspace == target.workspace);
    let covering = same.clone().filter(|(at, _)| target.segments.starts_with(&at.segments));
    let covered = covering.fold(Rights::NONE, |all, (_, rights)| all.union(*rights));
    let below = same
        .clone()
        .any(|(at, _)| at.segments.len() > target.segments.len() && at.segments.starts_with(&target.segments));
    if !covered.is_none() {
        Reach::Covered(covered)
    } else if below {
        Reach::Passage
    } else {
        Reach::Hidden
    }
}

proptest! {
    #[test]
    fn reach_follows_the_segment_rule(target in place(0..5), scopes in scopes()) {
        prop_assert_eq!(reach(target.id(), &target.path(), &located(&scopes)), model(&target, &scopes), "{:?}", target);
    }

    #[test]
    fn one_scope_covers_its_node_and_whole_subtree(scope in place(0..4), rights in rights(), below in prop::collection::vec(prop::sample::select(NAMES.to_vec()), 0..4)) {
        let scopes = located(&[(scope.clone(), rights)]);
        let mut segments = scope.segments.clone();
        segments.extend(below);
        let inside = Place { segments, ..scope.clone() };
        prop_assert_eq!(reach(scope.id(), &inside.path(), &scopes), Reach::Covered(rights), "{:?}", inside);
    }

    #[test]
    fn the_ancestors_of_a_scope_are_passages(scope in place(1..5), rights in rights(), depth in any::<prop::sample::Index>()) {
        let scopes = located(&[(scope.clone(), rights)]);
        let ancestor = Place { segments: scope.segments[..depth.index(scope.segments.len())].to_vec(), ..scope.clone() };
        let reached = reach(scope.id(), &ancestor.path(), &scopes);
        prop_assert_eq!(reached, Reach::Passage, "{:?}", ancestor);
        prop_assert_eq!(reached.rights(), Rights::READ, "a passage is read-only, whatever the scope gives");
    }

    /// `a/b` never reaches `a/bc`, `a/b c`, `a/b.x` or anything below them, in either
    /// direction: neither covered nor a passage.
    #[test]
    fn a_sibling_sharing_a_prefix_is_hidden(
        scope in place(1..4),
        rights in rights(),
        suffix in "[a-z .~]{1,3}",
        below in prop::collection::vec(prop::sample::select(NAMES.to_vec()), 0..3),
    ) {
        let mut segments = scope.segments.clone();
        let last = segments.pop().unwrap_or_default();
        let sibling_name = format!("{last}{suffix}");
        segments.push(&sibling_name);
        let id = scope.id();
        let sibling = segments.join("/");
        let scopes = located(&[(scope.clone(), rights)]);
        prop_assert_eq!(reach(id, &sibling, &scopes), Reach::Hidden, "{} from {}", sibling, scope.path());
        let nephew = [sibling.as_str()].into_iter().chain(below.iter().copied()).collect::<Vec<_>>().join("/");
        prop_assert_eq!(reach(id, &nephew, &scopes), Reach::Hidden, "{} from {}", nephew, scope.path());
        // The other way round: a scope on the sibling does not reach the node either.
        let other = [ScopeAt { workspace: id, path: sibling.clone(), rights }];
        prop_assert_eq!(reach(id, &scope.path(), &other), Reach::Hidden, "{} from {}", scope.path(), sibling);
    }

    #[test]
    fn nothing_outside_a_scope_is_reached(target in place(0..5), scope in place(0..4), rights in rights()) {
        let related = target.workspace == scope.workspace
            && (target.segments.starts_with(&scope.segments) || scope.segments.starts_with(&target.segments));
        let reached = reach(target.id(), &target.path(), &located(&[(scope, rights)]));
        prop_assert_eq!(reached == Reach::Hidden, !related, "{:?}", target);
        prop_assert_eq!(reached.rights().is_none(), !related);
    }

    /// Several scopes add up: covered by a list is covered by the union of what each
    /// covering scope gives, whatever the order of the list.
    #[test]
    fn scopes_add_up_in_any_order(target in place(0..5), first in scopes(), second in scopes(), seed in any::<u64>()) {
        let all = [first.clone(), second.clone()].concat();
        let id = target.id();
        let path = target.path();
        let union = reach(id, &path, &located(&all));
        let covered = |reach: Reach| if let Reach::Covered(rights) = reach { rights } else { Rights::NONE };
        let each = covered(reach(id, &path, &located(&first))).union(covered(reach(id, &path, &located(&second))));
        prop_assert_eq!(covered(union), each);
        let mut shuffled = all.clone();
        shuffled.reverse();
        let len = shuffled.len();
        if len > 1 {
            shuffled.swap(usize::try_from(seed % len as u64).unwrap_or(0), 0);
        }
        prop_assert_eq!(reach(id, &path, &located(&shuffled)), union);
        // A scope in another workspace changes nothing here.
        let here: Vec<_> = all.iter().filter(|(at, _)| at.workspace == target.workspace).cloned().collect();
        prop_assert_eq!(reach(id, &path, &located(&here)), union);
    }

    /// No place gets more than the scopes on it or above it give; a place that no scope
    /// covers is at most readable (a passage), and never writable.
    #[test]
    fn rights_never_exceed_the_scopes(target in place(0..5), scopes in scopes()) {
        let reached = reach(target.id(), &target.path(), &located(&scopes));
        let above = scopes
            .iter()
            .filter(|(at, _)| at.workspace == target.workspace && target.segments.starts_with(&at.segments))
            .fold(Rights::NONE, |all, (_, rights)| all.union(*rights));
        let given = scopes.iter().fold(Rights::NONE, |all, (_, rights)| all.union(*rights));
        match reached {
            Reach::Covered(rights) => {
                prop_assert!(!rights.is_none());
                prop_assert_eq!(rights, above);
            }
            Reach::Passage => prop_assert!(above.is_none()),
            Reach::Hidden => prop_assert!(above.is_none()),
        }
        prop_assert!(within(reached.rights(), above.union(Rights::READ)));
        prop_assert!(within(reached.rights(), given) || reached == Reach::Passage);
        prop_assert!(!reached.rights().write || above.write);
    }
}
