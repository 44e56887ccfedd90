"""The decision engine: TKEStack's Casbin model, compiled for speed. Pure Python, no Django.

Semantics, identical to pycasbin on the DESIGN.md model (tests/authz/test_differential.py):

    r = sub, dom, obj, act
    p = sub, dom, obj, act, eft
    g = _, _, _                      (links in domain "*" apply in every domain)
    e = some(allow) && !some(deny)
    m = g(r.sub, p.sub, r.dom) && match(r.obj, p.obj) && match(r.act, p.act)

A user holds a policy in project X when a chain user → (group) → (role) → policy exists whose
binding link is in domain ``*`` or ``X``; group membership and role contents are domain-less.

Why it is fast: instead of scanning every rule of every tenant, a tenant's rules are compiled
once per policy version into (a) for each subject, the policies it holds per domain, and
(b) for each policy, its statements with pre-compiled matchers (exact, prefix, any, regex).
A decision then only looks at the handful of policies the user holds. Decisions are memoised
per (user, project, resource, action) until the tenant's policy version changes.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

ALLOW = "allow"
DENY = "deny"
ALL_DOMAINS = "*"

_PLACEHOLDER = re.compile(r"/:[^/]+")


def pattern_regex(pattern: str) -> str:
    """The regular expression of a policy pattern: ``*`` is any string, a ``/:name`` segment is
    one path segment, everything else is literal; matching is case-insensitive and whole."""
    out = []
    pos = 0
    for placeholder in _PLACEHOLDER.finditer(pattern):
        out.append(_glob_regex(pattern[pos : placeholder.start()]))
        out.append("/[^/]+")
        pos = placeholder.end()
    out.append(_glob_regex(pattern[pos:]))
    return "^" + "".join(out) + r"\Z"


def _glob_regex(text: str) -> str:
    return ".*".join(re.escape(part) for part in text.split("*"))


def key_match(key: str, pattern: str) -> bool:
    """Reference implementation of the match function (also registered in pycasbin)."""
    return re.match(pattern_regex(pattern.lower()), key.lower(), re.DOTALL) is not None


class Matcher:
    """A compiled pattern. Most patterns are ``*``, exact, or ``prefix*``: those avoid regex."""

    __slots__ = ("pattern", "kind", "text", "regex")

    def __init__(self, pattern: str):
        self.pattern = pattern
        lowered = pattern.lower()
        self.regex = None
        if lowered == "*":
            self.kind, self.text = "any", ""
        elif "*" not in lowered and "/:" not in lowered:
            self.kind, self.text = "exact", lowered
        elif lowered.endswith("*") and "*" not in lowered[:-1] and "/:" not in lowered:
            self.kind, self.text = "prefix", lowered[:-1]
        else:
            self.kind, self.text = "regex", lowered
            self.regex = re.compile(pattern_regex(lowered), re.DOTALL)

    def matches(self, lowered_key: str) -> bool:
        kind = self.kind
        if kind == "any":
            return True
        if kind == "exact":
            return lowered_key == self.text
        if kind == "prefix":
            return lowered_key.startswith(self.text)
        return self.regex.match(lowered_key) is not None

    def covers(self, other_pattern: str) -> bool:
        """Does every key matching ``other_pattern`` also match this one? The other pattern's
        ``*`` becomes a sentinel only our ``*`` can absorb, its ``/:name`` a sentinel segment
        only our ``*`` or ``/:name`` can absorb (sound; may say no when the answer is yes)."""
        if self.kind == "any":
            return True
        other = _PLACEHOLDER.sub("/" + _SEGMENT, other_pattern.lower()).replace("*", _STAR)
        if self.kind != "regex":
            return self.matches(other)
        return re.match(_cover_regex(self.text), other, re.DOTALL) is not None


_STAR, _SEGMENT = "\x01", "\x00"


def _cover_regex(lowered: str) -> str:
    return pattern_regex(lowered).replace("/[^/]+", "/[^/\x01]+")


def _literal_ends(lowered: str) -> tuple[str, str]:
    """The literal text before the first and after the last wildcard of a pattern."""
    marks = [(m.start() + 1, m.end()) for m in _PLACEHOLDER.finditer(lowered)]
    marks += [(i, i + 1) for i, c in enumerate(lowered) if c == "*"]
    if not marks:
        return lowered, lowered
    return lowered[: min(a for a, _ in marks)], lowered[max(b for _, b in marks) :]


def may_overlap(a: str, b: str) -> bool:
    """Can some key match both patterns? Conservative: True unless provably disjoint."""
    ma, mb = Matcher(a), Matcher(b)
    if ma.kind == "exact" or mb.kind == "exact":
        exact, other = (ma, mb) if ma.kind == "exact" else (mb, ma)
        return other.matches(exact.text)
    (pa, sa), (pb, sb) = _literal_ends(a.lower()), _literal_ends(b.lower())
    return (pa.startswith(pb) or pb.startswith(pa)) and (sa.endswith(sb) or sb.endswith(sa))


def key_set_meets(key_set: str, pattern: str) -> bool:
    """Is there a key in ``key_set`` that ``pattern`` matches? ``key_set`` is a request key
    naming a set of objects (``cluster:c/namespace:*/secret:*``): its ``*`` stands for one name,
    never crossing ``/``. ``pattern`` is a policy pattern: ``*`` is any string, a ``/:name``
    placeholder is read as ``/*`` (a superset, so no meeting is missed). A search over pairs
    of positions (the product of the two patterns' automata); exact, no regex."""
    ka = re.sub(r"\*+", "*", key_set.lower())
    pb = re.sub(r"\*+", "*", _PLACEHOLDER.sub("/*", pattern.lower()))
    seen: set[tuple[int, int]] = set()
    stack = [(0, 0)]
    while stack:
        i, j = stack.pop()
        if (i, j) in seen:
            continue
        seen.add((i, j))
        end_a, end_b = i == len(ka), j == len(pb)
        if end_a and end_b:
            return True
        star_a = not end_a and ka[i] == "*"
        star_b = not end_b and pb[j] == "*"
        if star_a:
            stack.append((i + 1, j))  # the name ends
        if star_b:
            stack.append((i, j + 1))  # the pattern's star matches nothing more
        if end_a or end_b:
            continue
        if not star_a and not star_b:
            if ka[i] == pb[j]:
                stack.append((i + 1, j + 1))
        elif star_a and not star_b:
            if pb[j] != "/":  # a name never holds '/'
                stack.append((i, j + 1))
        elif star_b and not star_a:
            stack.append((i + 1, j))
    return False


@dataclass(frozen=True)
class Statement:
    """One policy statement: these actions on these resources are allowed (or denied)."""

    actions: tuple[str, ...]
    resources: tuple[str, ...]
    effect: str = ALLOW

    @classmethod
    def from_dict(cls, data: dict) -> Statement:
        if data.get("effect", ALLOW) not in (ALLOW, DENY):
            raise ValueError(f"statement effect must be allow or deny, not {data['effect']!r}")
        return cls(
            actions=tuple(data["actions"]),
            resources=tuple(data["resources"]),
            effect=data.get("effect", ALLOW),
        )

    def as_dict(self) -> dict:
        return {
            "actions": list(self.actions),
            "resources": list(self.resources),
            "effect": self.effect,
        }


class CompiledStatement:
    __slots__ = ("statement", "policy", "actions", "resources", "is_deny")

    def __init__(self, statement: Statement, policy: str):
        self.statement = statement
        self.policy = policy
        self.actions = [Matcher(p) for p in statement.actions]
        self.resources = [Matcher(p) for p in statement.resources]
        self.is_deny = statement.effect == DENY

    def match(self, action: str, resource: str) -> tuple[str, str] | None:
        """(action pattern, resource pattern) that matched, or None."""
        for act in self.actions:
            if act.matches(action):
                for res in self.resources:
                    if res.matches(resource):
                        return act.pattern, res.pattern
                return None
        return None


@dataclass(frozen=True)
class Link:
    """How a subject reaches a policy: ``via`` names the chain, for explain()."""

    policy: str
    domain: str
    via: str
    binding: object = None


@dataclass
class Decision:
    """The outcome of one check and the rules that decided it."""

    allowed: bool
    reason: str
    matched: list[dict] = field(default_factory=list)

    def __bool__(self) -> bool:
        return self.allowed


@dataclass(frozen=True)
class BindingSpec:
    """A binding as the engine sees it. ``subject`` is ("user", id) or ("group", id);
    ``target`` is ("policy", name) or ("role", name)."""

    subject: tuple[str, object]
    target: tuple[str, str]
    domain: str = ALL_DOMAINS
    ref: object = None


READ_PREFIXES = ("get", "list", "watch")
# Kinds a project namespace's quota is made of: changed only by the platform (the project API).
GOVERNED = frozenset({"resourcequota", "limitrange"})


class Ownership:
    """Which project owns which namespace of which cluster, and which projects span which
    cluster: the domain in which a request on a resource path is judged (DESIGN.md: every
    namespace-scoped decision is made in the owning project's domain, cluster-scoped ones in
    the platform domain).

    - ``cluster:<c>/namespace:<ns>/…`` (an object in a namespace): the project owning
      ``<ns>`` on ``<c>``; no project (the platform domain) when nobody owns it or the
      namespace is ``*`` (a set across namespaces).
    - ``project:<p>/…`` (what a project holds: its namespaces, its members): project ``<p>``.
    - A container itself — ``cluster:<c>/namespace:<ns>`` (the Namespace object) or
      ``project:<p>`` — is *read* in its project's domain and *changed* in the platform's:
      a project namespace is created, resized and deleted through the project API, which keeps
      quotas true, and a project's own quota is the platform's to give. The objects that hold
      a project namespace to its quota (its ResourceQuotas and LimitRanges, ``GOVERNED``)
      likewise: a member who could delete them could use more than the project was given.
    - Everything else (clusters, nodes, other cluster-scoped kinds, policies, users …): the
      platform domain; a cluster is also readable to whoever may read it in a project that
      spans it (:meth:`spanning`).
    """

    def __init__(
        self,
        namespaces: dict[tuple[str, str], str] | None = None,
        spans: dict[str, Iterable[str]] | None = None,
        projects: Iterable[str] = (),
    ):
        self.namespaces = {
            (c.lower(), n.lower()): p.lower() for (c, n), p in (namespaces or {}).items()
        }
        self.spans = {
            c.lower(): frozenset(p.lower() for p in ps) for c, ps in (spans or {}).items()
        }
        # Every project of the tenant is a domain, even one that spans nothing yet (its
        # members are managed before it has a cluster).
        self.projects = {p.lower() for p in projects} | set(self.namespaces.values())
        for ps in self.spans.values():
            self.projects |= ps

    def domain_of(self, resource: str, action: str) -> str | None:
        """The project domain of a lowered resource path, or None for the platform's."""
        if resource.startswith("project:"):
            name, _, rest = resource[8:].partition("/")
            if name not in self.projects:
                return None
            if not rest and not action.startswith(READ_PREFIXES):
                return None
            return name
        if not resource.startswith("cluster:"):
            return None
        parts = resource.split("/", 3)
        if len(parts) < 2 or not parts[1].startswith("namespace:"):
            return None
        namespace = parts[1][10:]
        if "*" in namespace:
            return None
        if not action.startswith(READ_PREFIXES) and (
            len(parts) == 2 or parts[2].split(":", 1)[0] in GOVERNED
        ):
            return None
        return self.namespaces.get((parts[0][8:], namespace))

    def spanning(self, resource: str, action: str) -> frozenset[str]:
        """Projects that span the cluster ``resource`` names (``cluster:<c>``), for a read."""
        if not resource.startswith("cluster:") or "/" in resource:
            return frozenset()
        if not action.startswith(READ_PREFIXES):
            return frozenset()
        return self.spans.get(resource[8:], frozenset())

    def namespaces_of(self, cluster: str, projects: Iterable[str]) -> list[str]:
        """The namespaces of ``cluster`` owned by any of ``projects``, sorted."""
        wanted = {p.lower() for p in projects}
        cluster = cluster.lower()
        return sorted(n for (c, n), p in self.namespaces.items() if c == cluster and p in wanted)


class TenantIndex:
    """All rules of one tenant at one policy version, compiled."""

    def __init__(
        self,
        policies: dict[str, Iterable[Statement]],
        roles: dict[str, Iterable[str]],
        bindings: Iterable[BindingSpec],
        group_members: dict[object, Iterable[object]],
        version: object = None,
        cache_size: int = 100_000,
        ownership: Ownership | None = None,
    ):
        self.version = version
        self.ownership = ownership or Ownership()
        self.statements: dict[str, list[CompiledStatement]] = {
            name: [CompiledStatement(s, name) for s in stmts] for name, stmts in policies.items()
        }
        self.roles = {name: tuple(members) for name, members in roles.items()}
        self.groups_of: dict[object, list[object]] = {}
        for group, members in group_members.items():
            for user in members:
                self.groups_of.setdefault(user, []).append(group)
        self.links_of: dict[tuple[str, object], list[Link]] = {}
        for spec in bindings:
            kind, name = spec.target
            label = f"{spec.subject[0]} binding" if kind == "policy" else f"role {name}"
            targets = [name] if kind == "policy" else self.roles.get(name, ())
            for policy in targets:
                self.links_of.setdefault(spec.subject, []).append(
                    Link(policy, spec.domain, label, spec.ref)
                )
        self._policies_cache: dict[tuple[object, str], list[tuple[Link, str]]] = {}
        self._decisions: dict[tuple, Decision] = {}
        self._cache_size = cache_size

    def clear_caches(self, policy_lists: bool = True) -> None:
        """Forget memoised decisions (and the per-user policy lists): cold-path benchmarks."""
        self._decisions.clear()
        if policy_lists:
            self._policies_cache.clear()

    # -- which policies apply -----------------------------------------------------------
    def links_for(self, user_id, project: str | None) -> list[tuple[Link, str]]:
        """(link, via) for every policy the user holds in ``project`` (or platform-wide)."""
        key = (user_id, project or ALL_DOMAINS)
        cached = self._policies_cache.get(key)
        if cached is not None:
            return cached
        found: list[tuple[Link, str]] = []
        subjects = [(("user", user_id), "user")]
        subjects += [(("group", g), f"group {g}") for g in self.groups_of.get(user_id, ())]
        for subject, who in subjects:
            for link in self.links_of.get(subject, ()):
                if link.domain == ALL_DOMAINS or link.domain == project:
                    found.append((link, f"{who} → {link.via}"))
        if len(self._policies_cache) >= self._cache_size:
            self._policies_cache.clear()
        self._policies_cache[key] = found
        return found

    def statements_for(self, user_id, project: str | None):
        for link, via in self.links_for(user_id, project):
            for compiled in self.statements.get(link.policy, ()):
                yield compiled, link, via

    def domains_held(self, user_id) -> set[str]:
        """Every project domain in which the user holds at least one policy."""
        subjects = [("user", user_id)] + [("group", g) for g in self.groups_of.get(user_id, ())]
        return {
            link.domain
            for subject in subjects
            for link in self.links_of.get(subject, ())
            if link.domain != ALL_DOMAINS
        }

    # -- decisions ------------------------------------------------------------------------
    def decide(
        self,
        user_id,
        action: str,
        resource: str,
        project: str | None = None,
        explain: bool = False,
        use_cache: bool = True,
    ) -> Decision:
        """The decision; memoised unless ``explain`` or ``use_cache=False`` (benchmarks)."""
        key = (user_id, project, resource, action)
        if not explain and use_cache:
            cached = self._decisions.get(key)
            if cached is not None:
                return cached
        lowered_action, lowered_resource = action.lower(), resource.lower()
        if project is None:
            project = self.ownership.domain_of(lowered_resource, lowered_action)
        decision = self._evaluate(user_id, lowered_action, lowered_resource, project, explain)
        if project is None and not decision.allowed and not decision.matched:
            decision = self._through_projects(
                user_id, lowered_action, lowered_resource, explain, decision
            )
        if not explain and use_cache:
            if len(self._decisions) >= self._cache_size:
                self._decisions.clear()
            self._decisions[key] = decision
        return decision

    def _evaluate(self, user_id, action, resource, project, explain) -> Decision:
        allows: list[dict] = []
        denies: list[dict] = []
        for compiled, link, via in self.statements_for(user_id, project):
            hit = compiled.match(action, resource)
            if hit is None:
                continue
            record = {
                "policy": compiled.policy,
                "effect": compiled.statement.effect,
                "action_pattern": hit[0],
                "resource_pattern": hit[1],
                "domain": link.domain,
                "via": via,
                "binding": getattr(link.binding, "pk", link.binding),
            }
            if compiled.is_deny:
                denies.append(record)
                if not explain:
                    break
            else:
                allows.append(record)
        if denies:
            return Decision(
                False,
                f"explicitly denied by policy {denies[0]['policy']}",
                denies + allows if explain else denies[:1],
            )
        if allows:
            # A later deny would win, so a fast path could not stop at the first allow;
            # the loop above only stops early on a deny.
            return Decision(
                True, f"allowed by policy {allows[0]['policy']}", allows if explain else allows[:1]
            )
        return Decision(False, "no policy allows it")

    def _through_projects(self, user_id, action, resource, explain, refused) -> Decision:
        """A cluster is shared by every project that spans it: reading it (seeing it in a list,
        opening it) is allowed to whoever may read it in one of those projects' domains."""
        spanning = self.ownership.spanning(resource, action)
        if not spanning:
            return refused
        for domain in sorted(spanning & self.domains_held(user_id)):
            decision = self._evaluate(user_id, action, resource, domain, explain)
            if decision.allowed:
                decision.reason += f" in project {domain}, which spans {resource}"
                return decision
        return refused

    def overlapping_deny(
        self, user_id, action: str, resource: str, project: str | None = None
    ) -> dict | None:
        """For a request on a *set* of objects (a resource key with ``*``, such as a list of
        every Secret): the first deny of ``action`` that covers some member of the set.
        ``decide`` matches a deny against the key as a string, so ``…/namespace:vault/*``
        never matches ``…/namespace:*/secret:*`` although the set includes vault's Secrets."""
        action = action.lower()
        if project is None:
            project = self.ownership.domain_of(resource.lower(), action)
        for compiled, link, _via in self.statements_for(user_id, project):
            if not compiled.is_deny or not any(m.matches(action) for m in compiled.actions):
                continue
            for res in compiled.resources:
                if key_set_meets(resource, res.pattern):
                    return {"policy": compiled.policy, "resource_pattern": res.pattern,
                            "domain": link.domain}  # fmt: skip
        return None

    # -- coverage (privilege-escalation checks) ------------------------------------------
    def holds(self, user_id, statement: Statement, project: str | None = None) -> bool:
        """Does the user hold every action × resource of ``statement`` (as patterns)?"""
        held = list(self.statements_for(user_id, project))
        for action in statement.actions:
            for resource in statement.resources:
                if not _covered(held, action, resource):
                    return False
        return True


def _covered(held, action: str, resource: str) -> bool:
    allowed = False
    for compiled, _link, _via in held:
        action_hit = any(m.covers(action) for m in compiled.actions)
        resource_hit = any(m.covers(resource) for m in compiled.resources)
        if compiled.is_deny:
            # Any overlap with a deny means the holder does not hold all of it.
            overlap_action = any(may_overlap(action, m.pattern) for m in compiled.actions)
            overlap_resource = any(may_overlap(resource, m.pattern) for m in compiled.resources)
            if overlap_action and overlap_resource:
                return False
        elif action_hit and resource_hit:
            allowed = True
    return allowed
