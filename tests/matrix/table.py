"""The role × endpoint table: every route of every service, who may call it, and which rows each role sees.

Adding a route anywhere fails tests/matrix/test_matrix.py until it is listed here; so does
removing one that is listed. For each route say:

- `allowed`: the roles that may call it (PUBLIC: anyone, with or without a token). Every
  other role gets 403, and a request without a valid token 401.
- how to call it so that an allowed caller really succeeds (2xx): `path` (a fixture name per
  path parameter, or per role: {"guardian": "child", "*": "student"}; "self" is the caller's
  own account), `query`, `json`, `data`, `files`, `headers`. Names refer to the world in
  tests/matrix/world.py; `Ref("name")` inside a query or body does too.
- `expect`: a caller (by label) for whom an allowed call answers something other than 2xx,
  and why (e.g. a machine client has no account of its own to read).
- `rows` (list endpoints, whose answer is a `Page`): for every allowed role, which fixture
  rows it sees: `only(...)` exactly those of the world, `at_least(...)` those among others
  (admin and staff see everyone; other tests' rows may be there too).

Roles: admin, staff, expert, mentor, coordinator, student, guardian, partner (a person of a
partner university, and that university's machine client), service (a Sprout service's
machine client).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from tests.matrix.world import new_id_number, new_phone

PUBLIC = frozenset({"*"})
EVERYONE = frozenset({"admin", "staff", "expert", "mentor", "coordinator", "student", "guardian", "partner", "service"})
PEOPLE = EVERYONE - {"service"}
ADMIN = frozenset({"admin"})
ADMIN_STAFF = frozenset({"admin", "staff"})


@dataclass(frozen=True)
class Ref:
    """A fixture of the world (its id), inside a query or a body."""

    name: str


@dataclass(frozen=True)
class Rows:
    names: tuple[str, ...]
    exact: bool


def only(*names: str) -> Rows:
    """Sees exactly these rows of the world (and nothing of anyone else's)."""
    return Rows(names, True)


def at_least(*names: str) -> Rows:
    """Sees these rows (among others, e.g. other tests' records)."""
    return Rows(names, False)


NOTHING = only()

Body = Mapping[str, Any] | Callable[[str], Mapping[str, Any]]  # or, per caller's role, a function of it


@dataclass(frozen=True)
class Route:
    service: str
    method: str
    path: str
    allowed: frozenset[str]
    path_params: Mapping[str, str | Mapping[str, str]] = field(default_factory=dict)
    query: Mapping[str, Any] = field(default_factory=dict)
    json: Body | None = None
    data: Body | None = None
    files: Callable[[Mapping[str, str]], dict[str, Any]] | None = None  # of the world's ids
    headers: Mapping[str, str] = field(default_factory=dict)
    expect: Mapping[str, int] = field(default_factory=dict)
    rows: Mapping[str, Rows] = field(default_factory=dict)
    row_key: str = "id"

    @property
    def key(self) -> str:
        return f"{self.service} {self.method} {self.path}"

    @property
    def public(self) -> bool:
        return self.allowed is PUBLIC


PAGE = {"limit": 200}


def _probes(service: str) -> list[Route]:
    return [
        Route(service, "GET", "/healthz", PUBLIC),
        Route(service, "GET", "/readyz", PUBLIC),
        # The gateway's API port is public: its metrics are on SPROUT_METRICS_PORT only.
        *([] if service == "gateway" else [Route(service, "GET", "/metrics", PUBLIC)]),
        Route(service, "GET", "/whoami", EVERYONE),
    ]


def _import_file(ids: Mapping[str, str]) -> dict[str, Any]:
    csv = f"姓名,身份证号,年级,监护人姓名,监护人电话\n王小明,{new_id_number()},7,王建国,{new_phone()}\n"
    return {"file": ("students.csv", csv.encode("utf-8"), "text/csv")}


def _consent_body(role: str) -> dict[str, Any]:
    # A guardian for their child, a student of 15 for themself; each to a partner not yet consented to.
    student = "child" if role == "guardian" else "student"
    return {"student_id": Ref(student), "purpose": "partner_sharing", "partner_id": Ref("other_university"), "text_version": "partner-sharing-v1"}


STUDENT_READERS = frozenset({"admin", "staff", "coordinator", "guardian", "student"})
CONSENT_READERS = frozenset({"admin", "staff", "guardian", "student"})
SCHOOL_READERS = frozenset({"admin", "staff", "coordinator", "expert", "mentor"})
# The directory snapshot: our own services (to load their read models) and admin.
DIRECTORY_READERS = frozenset({"admin", "service"})
ALL_STUDENTS = at_least("student", "child", "other_student")
ALL_CONSENTS = at_least("child_participation", "child_sharing", "student_participation", "student_sharing_withdrawn", "other_sharing")
# A guardian's own child, a student's own records.
MY_CONSENT = {"guardian": "child_participation", "student": "student_participation", "*": "child_participation"}

def _directory(service: str) -> list[Route]:
    """Every domain service's view of the directory (shared/directory/router.py), scoped as its lists are."""
    return [
        Route(service, "GET", "/directory/students", STUDENT_READERS, query=PAGE,
              rows={"admin": ALL_STUDENTS, "staff": ALL_STUDENTS, "coordinator": only("student", "child"),
                    "guardian": only("child"), "student": only("student")}),
        Route(service, "GET", "/directory/students/{student_id}", STUDENT_READERS,
              path_params={"student_id": {"guardian": "child", "*": "student"}}),
        Route(service, "GET", "/directory/status", frozenset({"admin", "staff", "service"})),
    ]


DOMAIN_SERVICES = ("selection", "mentoring", "courses", "tracking")

CAMPAIGN_READERS = EVERYONE
TEST_CANDIDATES = {"admin": at_least("cand_student", "cand_child"), "staff": at_least("cand_student", "cand_child"),
                   "coordinator": only("cand_student", "cand_child"), "guardian": only("cand_child"), "student": only("cand_student")}
MY_CANDIDATE = {"guardian": "cand_child", "*": "cand_student"}
NOMINATORS = frozenset({"coordinator", "student"})


def _nomination(role: str) -> dict[str, Any]:
    # The coordinator recommends the child of their school; the student nominates themself in physics.
    if role == "coordinator":
        return {"source": "school", "student_id": Ref("child"), "discipline": "math", "statement": "Our best young mathematician."}
    return {"source": "self", "discipline": "physics", "statement": "I build circuits and want to learn more."}


def _scores_file(ids: Mapping[str, str]) -> dict[str, Any]:
    csv = f"候选人编号,成绩,状态\n{ids['cand_student']},121,\n{ids['cand_child']},,缺考\n"
    return {"file": ("iq.csv", csv.encode("utf-8"), "text/csv")}


def _selection() -> list[Route]:
    """The selection service's campaigns, nominations and assessments (tests/matrix/world.py `_selection`)."""
    weights = {"iq_test": 1, "written_test": 1, "interview": 2}
    return [
        Route("selection", "POST", "/campaigns", frozenset({"staff"}), json={
            "year": 2092, "title": "Matrix new campaign", "school_limit": 3,
            "disciplines": [{"discipline": "biology", "quota": 5, "min_grade": 7, "max_grade": 9, "weights": weights}],
        }),
        Route("selection", "GET", "/campaigns", CAMPAIGN_READERS, query=PAGE,
              rows={role: at_least("campaign_open", "campaign_tests") for role in CAMPAIGN_READERS}),
        Route("selection", "GET", "/campaigns/{campaign_id}", CAMPAIGN_READERS, path_params={"campaign_id": "campaign_open"}),
        Route("selection", "PATCH", "/campaigns/{campaign_id}/disciplines/{discipline}", frozenset({"staff"}),
              path_params={"campaign_id": "campaign_open", "discipline": "=math"}, json={"quota": 12}),
        Route("selection", "PUT", "/campaigns/{campaign_id}/deadlines/{stage}", frozenset({"staff"}),
              path_params={"campaign_id": "campaign_open", "stage": "=nomination"}, json={"closes_at": "2089-06-30T18:00:00+08:00"}),
        Route("selection", "GET", "/campaigns/{campaign_id}/progress", ADMIN_STAFF, path_params={"campaign_id": "campaign_tests"}),
        Route("selection", "POST", "/campaigns/{campaign_id}/advance", frozenset({"staff"}),
              path_params={"campaign_id": "campaign_open"}, json={"to": "iq_test", "reason": "matrix: closing early"}),
        Route("selection", "GET", "/campaigns/{campaign_id}/transitions", ADMIN_STAFF, path_params={"campaign_id": "campaign_tests"}),
        Route("selection", "POST", "/campaigns/{campaign_id}/nominations", NOMINATORS,
              path_params={"campaign_id": "campaign_open"}, json=_nomination),
        Route("selection", "GET", "/campaigns/{campaign_id}/candidates", STUDENT_READERS, query=PAGE,
              path_params={"campaign_id": "campaign_tests"}, rows=TEST_CANDIDATES),
        Route("selection", "GET", "/candidates/{candidate_id}", STUDENT_READERS, path_params={"candidate_id": MY_CANDIDATE}),
        Route("selection", "POST", "/candidates/{candidate_id}/withdraw", frozenset({"student", "guardian"}),
              path_params={"candidate_id": MY_CANDIDATE}, json={"reason": "We are moving to another city."}),
        Route("selection", "PUT", "/candidates/{candidate_id}/assessments/{stage}", frozenset({"staff"}),
              path_params={"candidate_id": "cand_student", "stage": "=iq_test"}, json={"score": 120}),
        Route("selection", "POST", "/campaigns/{campaign_id}/assessments/{stage}/upload", frozenset({"staff"}),
              path_params={"campaign_id": "campaign_tests", "stage": "=iq_test"}, files=_scores_file),
        Route("selection", "GET", "/campaigns/{campaign_id}/assessments/{stage}", STUDENT_READERS, query=PAGE,
              path_params={"campaign_id": "campaign_tests", "stage": "=iq_test"}, rows=TEST_CANDIDATES, row_key="candidate_id"),
        Route("selection", "GET", "/record/verify", ADMIN),
        # Results (world: campaign_deciding, campaign_published with the mentor's objection).
        Route("selection", "GET", "/campaigns/{campaign_id}/ranking", ADMIN_STAFF,
              path_params={"campaign_id": "campaign_deciding"}, query={"discipline": "math"}),
        Route("selection", "PUT", "/candidates/{candidate_id}/decision", frozenset({"staff"}),
              path_params={"candidate_id": "deciding_student"}, json={"outcome": "admitted"}),
        Route("selection", "GET", "/campaigns/{campaign_id}/published", CAMPAIGN_READERS, path_params={"campaign_id": "campaign_published"}),
        Route("selection", "POST", "/candidates/{candidate_id}/objections", PEOPLE,
              path_params={"candidate_id": "published_child"}, json={"reason": "I would like to know why."},
              expect={"partner client": 403}),
        Route("selection", "GET", "/campaigns/{campaign_id}/objections", PEOPLE, query=PAGE,
              path_params={"campaign_id": "campaign_published"},
              rows={role: (at_least("objection") if role in ADMIN_STAFF else only("objection") if role == "mentor" else NOTHING) for role in PEOPLE}),
        Route("selection", "POST", "/objections/{objection_id}/answer", frozenset({"staff"}),
              path_params={"objection_id": "objection"}, json={"answer": "The scores and the quota are on the list."}),
        Route("selection", "GET", "/candidates/{candidate_id}/explanation", frozenset({"admin", "staff", "student", "guardian"}),
              path_params={"candidate_id": {"guardian": "published_child", "*": "published_student"}}),
        # Experts (world: the expert registered, a professor of math).
        Route("selection", "PUT", "/experts/{person_id}", frozenset({"staff"}), path_params={"person_id": "expert"},
              json={"type": "researcher", "disciplines": ["math", "physics"], "affiliation": "City education research institute", "max_load": 40}),
        Route("selection", "GET", "/experts", ADMIN_STAFF, query=PAGE, row_key="person_id",
              rows={"admin": at_least("expert"), "staff": at_least("expert")}),
        Route("selection", "GET", "/experts/{person_id}", frozenset({"admin", "staff", "expert"}), path_params={"person_id": "expert"}),
        Route("selection", "POST", "/experts/{person_id}/conflicts", frozenset({"staff", "expert"}), path_params={"person_id": "expert"},
              json={"student_id": Ref("student"), "kind": "taught", "reason": "Taught the student's olympiad class in 2025."}),
        Route("selection", "GET", "/experts/{person_id}/conflicts", frozenset({"admin", "staff", "expert"}), path_params={"person_id": "expert"}),
        Route("selection", "POST", "/campaigns/{campaign_id}/panels/preview", frozenset({"staff"}), path_params={"campaign_id": "campaign_interview"}),
        # The world's expert has scored already, so saving again is refused (tests/selection/test_panels.py saves).
        Route("selection", "POST", "/campaigns/{campaign_id}/panels", frozenset({"staff"}), path_params={"campaign_id": "campaign_interview"},
              expect={"staff": 409}),
        Route("selection", "GET", "/campaigns/{campaign_id}/panels", ADMIN_STAFF, path_params={"campaign_id": "campaign_interview"}),
        Route("selection", "PUT", "/campaigns/{campaign_id}/rubrics/{discipline}", frozenset({"staff"}),
              path_params={"campaign_id": "campaign_open", "discipline": "=math"},
              json={"criteria": [{"key": "insight", "title": "Insight", "weight": 2, "min": 0, "max": 5}]}),
        Route("selection", "GET", "/campaigns/{campaign_id}/rubrics/{discipline}", frozenset({"admin", "staff", "expert"}),
              path_params={"campaign_id": "campaign_interview", "discipline": "=math"}),
        Route("selection", "GET", "/panels/mine", frozenset({"expert"})),
        Route("selection", "PUT", "/candidates/{candidate_id}/interview-score", frozenset({"expert"}),
              path_params={"candidate_id": "cand_interview"}, json={"scores": {"reasoning": 8}}),
        Route("selection", "GET", "/candidates/{candidate_id}/interview-scores", frozenset({"admin", "staff", "expert"}),
              path_params={"candidate_id": "cand_interview"}),
        Route("selection", "GET", "/campaigns/{campaign_id}/interview-report", ADMIN_STAFF, path_params={"campaign_id": "campaign_interview"}),
        # The world has one expert, already on the panel; one score, nothing to adjudicate (tests/selection/test_panels.py edits and rules).
        Route("selection", "POST", "/campaigns/{campaign_id}/candidates/{candidate_id}/panel/replacements", frozenset({"staff"}),
              path_params={"campaign_id": "campaign_interview", "candidate_id": "cand_interview"},
              json={"remove": Ref("expert"), "add": Ref("expert"), "reason": "The expert asked to be replaced."}, expect={"staff": 409}),
        Route("selection", "PUT", "/candidates/{candidate_id}/adjudication", frozenset({"staff"}), path_params={"candidate_id": "cand_interview"},
              json={"score": 70, "reason": "The panel was heard again."}, expect={"staff": 409}),
    ]

def _mentoring() -> list[Route]:
    browsers = frozenset({"admin", "staff", "mentor", "coordinator", "student", "guardian"})
    student_needs, child_needs = ("need_student_lab", "need_student_life"), ("need_child_lab", "need_child_life")
    every_need = (*student_needs, *child_needs, "need_other_student_lab", "need_other_student_life")
    every_lab = ("need_student_lab", "need_child_lab", "need_other_student_lab")
    return [
        Route("mentoring", "PUT", "/mentors/{person_id}", frozenset({"staff", "mentor"}), path_params={"person_id": "mentor"},
              json={"kind": "both", "type": "professor", "affiliation": "Matrix University", "disciplines": ["math", "physics"],
                    "topics": ["数论"], "lab_capacity": 6, "life_capacity": 4,
                    "availability": [{"kind": "weekend", "starts_on": "2027-03-01", "ends_on": "2027-06-30"}]}),
        Route("mentoring", "GET", "/mentors", browsers, query=PAGE, row_key="person_id", rows={r: at_least("mentor") for r in browsers}),
        Route("mentoring", "GET", "/mentors/{person_id}", browsers, path_params={"person_id": "mentor"}),
        Route("mentoring", "POST", "/mentors/{person_id}/conflicts", frozenset({"staff", "mentor"}), path_params={"person_id": "mentor"},
              json={"student_id": Ref("other_student"), "kind": "taught", "reason": "Teaches the student's olympiad class this year."}),
        Route("mentoring", "GET", "/mentors/{person_id}/conflicts", frozenset({"admin", "staff", "mentor"}), path_params={"person_id": "mentor"}),
        Route("mentoring", "GET", "/record/verify", ADMIN),
        Route("mentoring", "POST", "/rounds", frozenset({"staff"}), json={
            "kind": "life", "cohort_year": 2027, "title": "2027 life mentors", "opens_at": "2027-09-01T00:00:00+08:00",
            "closes_at": "2027-09-15T00:00:00+08:00"}),
        Route("mentoring", "GET", "/rounds", browsers, query=PAGE, rows={r: at_least("round_lab", "round_done") for r in browsers}),
        Route("mentoring", "GET", "/rounds/{round_id}", browsers, path_params={"round_id": "round_lab"}),
        Route("mentoring", "PUT", "/rounds/{round_id}/preferences/{need_id}", frozenset({"staff", "student"}),
              path_params={"round_id": "round_lab", "need_id": "need_student_lab"}, json={"mentors": [Ref("mentor")]}),
        # A mentor reads the places naming them in the list below, not a student's whole list.
        Route("mentoring", "GET", "/rounds/{round_id}/preferences/{need_id}", browsers,
              path_params={"round_id": "round_lab", "need_id": {"guardian": "need_child_lab", "*": "need_student_lab"}}, expect={"mentor": 404}),
        Route("mentoring", "GET", "/rounds/{round_id}/preferences", browsers, query=PAGE, path_params={"round_id": "round_lab"}, rows={
            "admin": at_least("pref_student"), "staff": at_least("pref_student"), "coordinator": only("pref_student"),
            "student": only("pref_student"), "guardian": NOTHING, "mentor": only("pref_student"),
        }),
        Route("mentoring", "GET", "/needs", browsers, query=PAGE, rows={
            "admin": at_least(*every_need), "staff": at_least(*every_need), "coordinator": only(*student_needs, *child_needs),
            "student": only(*student_needs), "guardian": only(*child_needs), "mentor": only(*student_needs),
        }),
        # runs: the world's lab round is still open, so drafting (and a force, which drafts) answers mentoring_window_open.
        Route("mentoring", "PUT", "/rounds/{round_id}/rankings/{mentor_id}", frozenset({"staff", "mentor"}),
              path_params={"round_id": "round_lab", "mentor_id": "mentor"}, json={"needs": [Ref("need_student_lab")]}),
        Route("mentoring", "GET", "/rounds/{round_id}/rankings/{mentor_id}", frozenset({"admin", "staff", "mentor"}),
              path_params={"round_id": "round_lab", "mentor_id": "mentor"}),
        Route("mentoring", "POST", "/rounds/{round_id}/runs", frozenset({"staff"}), path_params={"round_id": "round_lab"}, expect={"staff": 409}),
        Route("mentoring", "GET", "/rounds/{round_id}/runs", ADMIN_STAFF, query=PAGE, path_params={"round_id": "round_done"},
              rows={"admin": only("run_done"), "staff": only("run_done")}),
        Route("mentoring", "GET", "/rounds/{round_id}/runs/{run_id}", browsers, path_params={"round_id": "round_done", "run_id": "run_done"}),
        Route("mentoring", "GET", "/rounds/{round_id}/runs/{run_id}/entries", browsers, query=PAGE, row_key="need_id",
              path_params={"round_id": "round_done", "run_id": "run_done"}, rows={
                  "admin": at_least(*every_lab), "staff": at_least(*every_lab), "coordinator": only("need_student_lab", "need_child_lab"),
                  "student": only("need_student_lab"), "guardian": only("need_child_lab"), "mentor": only("need_student_lab")}),
        Route("mentoring", "POST", "/rounds/{round_id}/runs/{run_id}/publish", frozenset({"staff"}),
              path_params={"round_id": "round_lab", "run_id": "=" + "0" * 8 + "-0000-4000-8000-" + "0" * 12}, expect={"staff": 404}),
        Route("mentoring", "PUT", "/rounds/{round_id}/overrides/{need_id}/{mentor_id}", frozenset({"staff"}),
              path_params={"round_id": "round_lab", "need_id": "need_child_lab", "mentor_id": "mentor"},
              json={"action": "ban", "reason": "The mentor asked not to take this student."}, expect={"staff": 409}),
        Route("mentoring", "DELETE", "/rounds/{round_id}/overrides/{need_id}/{mentor_id}", frozenset({"staff"}),
              path_params={"round_id": "round_lab", "need_id": "need_child_lab", "mentor_id": "mentor"}, expect={"staff": 404}),
        Route("mentoring", "GET", "/rounds/{round_id}/overrides", ADMIN_STAFF, query=PAGE, path_params={"round_id": "round_lab"},
              rows={"admin": NOTHING, "staff": NOTHING}),
        # projects: the guardian's child is in no project, so the guardian reads none; the world's
        # mentor leads project_a and project_c and judges project_b's defense.
        Route("mentoring", "POST", "/projects", frozenset({"staff", "mentor"}), json={
            "title": "Tilings", "abstract": "Domino tilings of the Aztec diamond.", "discipline": "math", "mentor_id": Ref("mentor"),
            "members": [Ref("student")]}),
        Route("mentoring", "GET", "/projects", browsers, query=PAGE, rows={
            "admin": at_least("project_a", "project_b", "project_c"), "staff": at_least("project_a", "project_b", "project_c"),
            "mentor": only("project_a", "project_b", "project_c"), "coordinator": only("project_a", "project_c"),
            "student": only("project_a", "project_c"), "guardian": NOTHING}),
        Route("mentoring", "GET", "/projects/{project_id}", browsers, path_params={"project_id": "project_a"}, expect={"guardian": 404}),
        Route("mentoring", "POST", "/projects/{project_id}/milestones", frozenset({"staff", "mentor"}), path_params={"project_id": "project_a"},
              json={"title": "Draft", "due_at": "2036-06-01T12:00:00+08:00", "description": "A first draft of the paper."}),
        Route("mentoring", "GET", "/projects/{project_id}/milestones", browsers, query=PAGE, path_params={"project_id": "project_a"}, rows={
            **{r: only("milestone_a") for r in ("admin", "staff", "mentor", "coordinator", "student")}, "guardian": NOTHING}),
        Route("mentoring", "PATCH", "/milestones/{milestone_id}", frozenset({"staff", "mentor"}), path_params={"milestone_id": "milestone_a"},
              json={"due_at": "2036-07-01T12:00:00+08:00"}),
        Route("mentoring", "POST", "/milestones/{milestone_id}/submissions", frozenset({"student"}), path_params={"milestone_id": "milestone_a"},
              json={"text": "The second version of the summary.", "link": "https://example.org/v2"}),
        Route("mentoring", "GET", "/milestones/{milestone_id}/submissions", browsers, query=PAGE, path_params={"milestone_id": "milestone_a"},
              rows={**{r: only("submission_a") for r in ("admin", "staff", "mentor", "coordinator", "student")}, "guardian": NOTHING}),
        Route("mentoring", "PUT", "/submissions/{submission_id}/review", frozenset({"mentor"}), path_params={"submission_id": "submission_a"},
              json={"review": "needs_revision", "note": "Say which paper proves the bound."}),
        Route("mentoring", "POST", "/projects/{project_id}/defenses", frozenset({"staff"}), path_params={"project_id": "project_c"}, json={
            "starts_at": "2036-06-20T09:00:00+08:00", "place": "Room 303", "pass_mark": 60,
            "rubric": {"criteria": [{"key": "method", "title": "Method", "weight": 1, "min": 0, "max": 10}]}}),
        Route("mentoring", "GET", "/defenses", browsers, query=PAGE, rows={
            "admin": at_least("defense_a", "defense_b"), "staff": at_least("defense_a", "defense_b"), "mentor": only("defense_a", "defense_b"),
            "coordinator": only("defense_a"), "student": only("defense_a"), "guardian": NOTHING}),
        Route("mentoring", "GET", "/defenses/{defense_id}", browsers, path_params={"defense_id": {"mentor": "defense_b", "*": "defense_a"}},
              expect={"guardian": 404}),
        Route("mentoring", "PUT", "/defenses/{defense_id}/panel", frozenset({"staff"}), path_params={"defense_id": "defense_b"}, json={"size": 3}),
        Route("mentoring", "PUT", "/defenses/{defense_id}/scores", frozenset({"mentor"}), path_params={"defense_id": "defense_b"},
              json={"scores": {"method": 6, "presentation": 9}}),
        Route("mentoring", "GET", "/defenses/{defense_id}/scores", frozenset({"admin", "staff", "mentor"}), path_params={"defense_id": "defense_b"}),
        Route("mentoring", "POST", "/defenses/{defense_id}/decision", frozenset({"staff"}), path_params={"defense_id": "defense_a"},
              json={"note": "A careful method; present the bound more clearly."}),
        # lectures: everyone signed in browses them; registrations are scoped like the needs, plus the speaker-mentor's lecture.
        Route("mentoring", "POST", "/lectures", frozenset({"staff"}), json={
            "title": "化学与生活", "abstract": "厨房里的化学反应。", "speaker_name": "林工程师", "organisation": "福建炼化公司",
            "disciplines": ["chemistry"], "starts_at": "2027-03-06T09:00:00+08:00", "ends_at": "2027-03-06T11:00:00+08:00",
            "place": "泉州五中 实验楼", "capacity": 40}),
        Route("mentoring", "GET", "/lectures", PEOPLE, query=PAGE, rows={r: at_least("lecture") for r in PEOPLE}),
        Route("mentoring", "GET", "/lectures/{lecture_id}", PEOPLE, path_params={"lecture_id": "lecture"}),
        Route("mentoring", "PATCH", "/lectures/{lecture_id}", frozenset({"staff"}), path_params={"lecture_id": "lecture"},
              json={"place": "泉州五中 图书馆报告厅"}, headers={"If-Match": "*"}),
        Route("mentoring", "POST", "/lectures/{lecture_id}/cancel", frozenset({"staff"}), path_params={"lecture_id": "lecture"},
              json={"reason": "The speaker is ill; a new date will follow."}),
        Route("mentoring", "POST", "/lectures/{lecture_id}/registrations", frozenset({"staff", "student", "guardian"}),
              path_params={"lecture_id": "lecture"},
              json=lambda role: {"student_id": Ref("child")} if role == "guardian" else {"student_id": Ref("student")} if role == "staff" else {}),
        Route("mentoring", "GET", "/lectures/{lecture_id}/registrations", browsers, query=PAGE, path_params={"lecture_id": "lecture"}, rows={
            "admin": at_least("lecture_reg_student", "lecture_reg_child", "lecture_reg_other_student"), "staff": at_least("lecture_reg_student", "lecture_reg_child", "lecture_reg_other_student"), "coordinator": only("lecture_reg_student", "lecture_reg_child"),
            "student": only("lecture_reg_student"), "guardian": only("lecture_reg_child"), "mentor": only("lecture_reg_student", "lecture_reg_child", "lecture_reg_other_student"),
        }),
        Route("mentoring", "POST", "/lectures/{lecture_id}/registrations/{registration_id}/cancel", frozenset({"staff", "student", "guardian"}),
              path_params={"lecture_id": "lecture", "registration_id": {"guardian": "lecture_reg_child", "*": "lecture_reg_student"}}),
        Route("mentoring", "PUT", "/lectures/{lecture_id}/registrations/{registration_id}/attendance", frozenset({"staff", "mentor"}),
              path_params={"lecture_id": "lecture_past", "registration_id": "lecture_reg_past"}, json={"attendance": "attended"}),
        Route("mentoring", "GET", "/lecture-registrations", browsers, query=PAGE, rows={
            "admin": at_least("lecture_reg_student", "lecture_reg_child", "lecture_reg_other_student", "lecture_reg_past"), "staff": at_least("lecture_reg_student", "lecture_reg_child", "lecture_reg_other_student", "lecture_reg_past"),
            "coordinator": only("lecture_reg_student", "lecture_reg_child", "lecture_reg_past"),
            "student": only("lecture_reg_student", "lecture_reg_past"), "guardian": only("lecture_reg_child"),
            "mentor": only("lecture_reg_student", "lecture_reg_child", "lecture_reg_other_student", "lecture_reg_past"),
        }),
        # mentorships: the guardian's calls are on the child's (life) mentorship, everyone else's on the student's (lab).
        *_mentorships(browsers),
    ]


def _courses_registration() -> list[Route]:
    """Registration (services/courses/registration/): windows and holds by staff; a student registers
    themself, staff anyone, a guardian no one; every list scoped by the directory's rows."""
    readers = frozenset({"admin", "staff", "coordinator", "student", "guardian"})
    actors = frozenset({"staff", "student"})
    window = {"groups": [{"label": "研究型学生", "opens_at": "2027-01-04T09:00:00+08:00", "research_only": True},
                         {"label": "全体学生", "opens_at": "2027-01-05T09:00:00+08:00"}],
              "closes_at": "2027-01-20T18:00:00+08:00", "drop_deadline": "2027-02-20T18:00:00+08:00", "claim_hours": 24}
    # res_*: the seats in the results' section (_courses_results).
    ours = ("reg_student", "reg_student_offered", "res_reg_student")
    school_a = (*ours, "reg_child", "res_reg_child")
    every = (*school_a, "reg_other_student", "reg_other_waitlisted", "res_reg_other")
    return [
        Route("courses", "POST", "/registration-windows", frozenset({"staff"}), json={**window, "term_id": Ref("reg_term_free")}),
        Route("courses", "GET", "/registration-windows", PEOPLE, query=PAGE, rows={r: at_least("reg_window") for r in PEOPLE}),
        Route("courses", "GET", "/registration-windows/{window_id}", PEOPLE, path_params={"window_id": "reg_window"}),
        Route("courses", "PUT", "/registration-windows/{window_id}", frozenset({"staff"}), path_params={"window_id": "reg_window"}, json=window),
        Route("courses", "POST", "/registration-holds", frozenset({"staff"}), json={"student_id": Ref("student"), "reason": "The guardian asked for a pause."}),
        Route("courses", "GET", "/registration-holds", readers, query=PAGE, rows={
            "admin": at_least("reg_hold"), "staff": at_least("reg_hold"), "coordinator": NOTHING, "student": NOTHING, "guardian": NOTHING}),
        Route("courses", "POST", "/registration-holds/{hold_id}/release", frozenset({"staff"}), path_params={"hold_id": "reg_hold"}),
        Route("courses", "POST", "/registrations", actors,
              json=lambda role: {"section_id": Ref("reg_section_open"), **({"student_id": Ref("student")} if role == "staff" else {})}),
        Route("courses", "GET", "/registrations", readers, query=PAGE, rows={
            "admin": at_least(*every), "staff": at_least(*every), "coordinator": only(*school_a), "student": only(*ours),
            "guardian": only("reg_child", "res_reg_child")}),
        Route("courses", "GET", "/registrations/{registration_id}", readers,
              path_params={"registration_id": {"guardian": "reg_child", "*": "reg_student"}}),
        Route("courses", "POST", "/registrations/{registration_id}/drop", actors, path_params={"registration_id": "reg_student"}),
        Route("courses", "POST", "/offers/{offer_id}/claim", actors, path_params={"offer_id": "offer_student"}),
        Route("courses", "POST", "/offers/{offer_id}/decline", actors, path_params={"offer_id": "offer_student"}),
        Route("courses", "GET", "/sections/{section_id}/roster", frozenset({"admin", "staff", "coordinator", "mentor", "expert", "partner"}),
              query=PAGE, path_params={"section_id": "reg_section"}, rows={
                  "admin": only("reg_student", "reg_child", "reg_other_student"), "staff": only("reg_student", "reg_child", "reg_other_student"),
                  "coordinator": only("reg_student", "reg_child"), "mentor": only("reg_student", "reg_child", "reg_other_student"),
                  "expert": NOTHING, "partner": NOTHING}),
        Route("courses", "PUT", "/sections/{section_id}/capacity", frozenset({"staff"}), path_params={"section_id": "reg_section"},
              json={"capacity": 20}),
    ]


def _mentorships(browsers: frozenset[str]) -> list[Route]:
    from shared.clock import today

    mine = {"guardian": "mentorship_child_life", "*": "mentorship_student_lab"}
    every = ("mentorship_student_lab", "mentorship_child_life", "mentorship_other_life")
    party = frozenset({"mentor", "student"})
    base = "/mentorships/{mentorship_id}"

    def scoped(student_row: str, child_row: str) -> dict[str, Rows]:
        return {**{r: only(student_row) for r in ("admin", "staff", "mentor", "coordinator", "student")}, "guardian": only(child_row)}

    def meetings(rows: Rows) -> dict[str, Rows]:
        return {**{r: rows for r in ("admin", "staff", "mentor", "coordinator", "student")}, "guardian": only("meeting_child")}

    return [
        Route("mentoring", "GET", "/mentorships", browsers, query=PAGE, rows={
            "admin": at_least(*every), "staff": at_least(*every), "coordinator": only("mentorship_student_lab", "mentorship_child_life"),
            "student": only("mentorship_student_lab"), "guardian": only("mentorship_child_life"), "mentor": only("mentorship_student_lab")}),
        Route("mentoring", "GET", base, browsers, path_params={"mentorship_id": mine}),
        Route("mentoring", "POST", f"{base}/pause", frozenset({"staff", "mentor"}), path_params={"mentorship_id": "mentorship_student_lab"},
              json={"reason": "The student sits the provincial exams this month."}),
        # The other student's mentorship is paused; its mentor is not the world's.
        Route("mentoring", "POST", f"{base}/resume", frozenset({"staff", "mentor"}), path_params={"mentorship_id": "mentorship_other_life"},
              json={"reason": "The exams are over."}, expect={"mentor": 404}),
        Route("mentoring", "POST", f"{base}/requests", frozenset({"student", "guardian", "mentor"}), path_params={"mentorship_id": mine},
              json={"kind": "rematch", "reason": "The research topics no longer fit."}),
        Route("mentoring", "GET", f"{base}/requests", browsers, query=PAGE, path_params={"mentorship_id": mine},
              rows={**scoped("request_student", "request_student"), "guardian": NOTHING}),
        Route("mentoring", "POST", f"{base}/requests/{{request_id}}/decision", frozenset({"staff"}),
              path_params={"mentorship_id": "mentorship_other_life", "request_id": "request_other"},
              json={"outcome": "approved", "note": "A new life mentor in the next round."}),
        Route("mentoring", "POST", f"{base}/meetings", party, path_params={"mentorship_id": "mentorship_student_lab"},
              json=lambda role: {"held_on": today().isoformat(), "minutes": 60, "topic": "数论：同余", "notes": "Good progress."}),
        Route("mentoring", "PATCH", f"{base}/meetings/{{meeting_id}}", party,
              path_params={"mentorship_id": "mentorship_student_lab", "meeting_id": {"student": "meeting_student", "*": "meeting_mentor"}},
              json={"minutes": 75}),
        Route("mentoring", "GET", f"{base}/meetings", browsers, query=PAGE, path_params={"mentorship_id": mine},
              rows=meetings(only("meeting_student", "meeting_mentor"))),
        Route("mentoring", "POST", f"{base}/goals", party, path_params={"mentorship_id": "mentorship_student_lab"},
              json={"title": "Write up the graph colouring project", "target_date": "2099-06-30"}),
        Route("mentoring", "GET", f"{base}/goals", browsers, query=PAGE, path_params={"mentorship_id": mine}, rows=scoped("goal_student", "goal_child")),
        Route("mentoring", "POST", f"{base}/goals/{{goal_id}}/progress", party,
              path_params={"mentorship_id": "mentorship_student_lab", "goal_id": "goal_student"},
              json={"percent": 60, "note": "The last chapter is started."}),
        Route("mentoring", "GET", f"{base}/goals/{{goal_id}}/progress", browsers, query=PAGE,
              path_params={"mentorship_id": mine, "goal_id": {"guardian": "goal_child", "*": "goal_student"}},
              rows=scoped("update_student", "update_child")),
    ]


def _courses_applications() -> list[Route]:
    """Exemptions and grade skips (services/courses/applications/)."""
    readers = frozenset({"admin", "staff", "coordinator", "student", "guardian"})
    applicants = frozenset({"student", "guardian"})
    deciders = frozenset({"coordinator", "staff", "admin"})
    evidence = {"evidence_kind": "competition_award", "evidence": "2026 全国中学生物理竞赛（福建赛区）二等奖", "links": ["https://example.org/cpho"]}
    mine = {"guardian": "exemption_child", "*": "exemption_student"}
    my_skip = {"guardian": "grade_skip_child", "*": "grade_skip_student"}

    def scoped(student: str, child: str, other: str) -> dict[str, Rows]:
        return {"admin": at_least(student, child, other), "staff": at_least(student, child, other), "coordinator": only(student, child),
                "student": only(student), "guardian": only(child)}

    return [
        Route("courses", "POST", "/exemptions", applicants, json=lambda role: {
            "student_id": Ref("child" if role == "guardian" else "student"), "course_id": Ref("course_b"), "kind": "course", **evidence}),
        Route("courses", "GET", "/exemptions", readers, query=PAGE, rows=scoped("exemption_student", "exemption_child", "exemption_other")),
        Route("courses", "GET", "/exemptions/{application_id}", readers, path_params={"application_id": mine}),
        Route("courses", "POST", "/exemptions/{application_id}/decision", frozenset({"staff"}), path_params={"application_id": "exemption_other"},
              json={"outcome": "approved", "reason": "The olympiad award covers the course."}),
        Route("courses", "POST", "/exemptions/{application_id}/withdraw", applicants, path_params={"application_id": mine}),
        # The student's and the child's grade skips are pending: a second one is refused (courses_application_open).
        Route("courses", "POST", "/grade-skips", applicants, json=lambda role: {
            "student_id": Ref("child" if role == "guardian" else "student"), "to_grade": 11, **evidence},
              expect={"student": 409, "guardian": 409}),
        Route("courses", "GET", "/grade-skips", readers, query=PAGE, rows=scoped("grade_skip_student", "grade_skip_child", "grade_skip_other")),
        Route("courses", "GET", "/grade-skips/queue", deciders, query=PAGE, rows={
            "coordinator": only("grade_skip_child"), "staff": at_least("grade_skip_student"), "admin": at_least("grade_skip_other")}),
        Route("courses", "GET", "/grade-skips/{application_id}", readers, path_params={"application_id": my_skip}),
        Route("courses", "POST", "/grade-skips/{application_id}/decisions", deciders,
              path_params={"application_id": {"coordinator": "grade_skip_child", "staff": "grade_skip_student", "*": "grade_skip_other"}},
              json=lambda role: {"level": role if role in deciders else "staff", "outcome": "approved", "reason": "The evidence holds."}),
        Route("courses", "POST", "/grade-skips/{application_id}/withdraw", applicants, path_params={"application_id": my_skip}),
    ]


def _courses_catalogue() -> list[Route]:
    staff = frozenset({"staff"})
    weekly = {"block_id": Ref("term_weekends"), "weekday": "saturday", "starts": "13:00", "ends": "15:00"}
    return [
        Route("courses", "GET", "/record/verify", ADMIN),
        Route("courses", "POST", "/courses", staff, json={
            "code": "PHYS-B-MATRIX", "title": "力学基础", "type": "basic", "discipline": "physics", "level": 1, "min_grade": 7,
            "max_grade": 9, "prerequisites": [], "hours": 24, "description": "牛顿定律与守恒量。"}),
        Route("courses", "GET", "/courses", PEOPLE, query=PAGE, rows={r: at_least("course_basic", "course_extended") for r in PEOPLE}),
        Route("courses", "GET", "/courses/{course_id}", PEOPLE, path_params={"course_id": "course_basic"}),
        Route("courses", "PATCH", "/courses/{course_id}", staff, path_params={"course_id": "course_extended"},
              json={"hours": 40}, headers={"If-Match": "*"}),
        Route("courses", "POST", "/terms", staff, json={
            "title": "matrix summer term", "starts_on": "2028-07-01", "ends_on": "2028-08-31", "load_limit": 3,
            "blocks": [{"kind": "summer", "starts_on": "2028-07-10", "ends_on": "2028-08-20"}]}),
        Route("courses", "GET", "/terms", PEOPLE, query=PAGE, rows={r: at_least("term") for r in PEOPLE}),
        Route("courses", "GET", "/terms/{term_id}", PEOPLE, path_params={"term_id": "term"}),
        Route("courses", "PATCH", "/terms/{term_id}", staff, path_params={"term_id": "term"}, json={"load_limit": 5},
              headers={"If-Match": "*"}),
        Route("courses", "POST", "/sections", staff, json={
            "course_id": Ref("course_basic"), "term_id": Ref("term"), "code": "M", "host_kind": "school", "host_id": Ref("school_a"),
            "teacher_name": "王老师", "place": "A 校 101", "capacity": 25, "weekly": [weekly]}),
        Route("courses", "GET", "/sections", PEOPLE, query=PAGE, rows={r: at_least("section_base", "section_school_b") for r in PEOPLE}),
        Route("courses", "GET", "/sections/{section_id}", PEOPLE, path_params={"section_id": "section_school_b"}),
        Route("courses", "PATCH", "/sections/{section_id}", staff, path_params={"section_id": "section_base"},
              json={"place": "泉州五中 科学楼 302"}, headers={"If-Match": "*"}),
        Route("courses", "PUT", "/sections/{section_id}/meetings", staff, path_params={"section_id": "section_base"},
              json={"weekly": [weekly]}, headers={"If-Match": "*"}),
    ]


def _courses_results() -> list[Route]:
    """Attendance and results (services/courses/results/): the section's teacher (the world's mentor)
    or staff record; a section's lists for its teacher, staff, admin and a coordinator (their
    school's students); a student's lists by the directory's row scoping."""
    recorders = frozenset({"staff", "mentor", "coordinator"})
    section_readers = frozenset({"admin", "staff", "coordinator", "mentor"})
    readers = frozenset({"admin", "staff", "coordinator", "student", "guardian"})

    def section_rows(student: str, child: str, other: str) -> dict[str, Rows]:
        return {**{r: only(student, child, other) for r in ("admin", "staff", "mentor")}, "coordinator": only(student, child)}

    def student_rows(student: str, child: str, other: str) -> dict[str, Rows]:
        return {"admin": at_least(student, child, other), "staff": at_least(student, child, other), "coordinator": only(student, child),
                "student": only(student), "guardian": only(child)}

    return [
        # The coordinator teaches no section of the world: refused with courses_not_section_teacher.
        Route("courses", "PUT", "/sections/{section_id}/meetings/{meeting_id}/attendance", recorders,
              path_params={"section_id": "res_section", "meeting_id": "res_meeting_next"},
              json={"students": [{"student_id": Ref("student"), "status": "late"}, {"student_id": Ref("child"), "status": "excused"}]},
              expect={"coordinator": 403}),
        Route("courses", "GET", "/sections/{section_id}/attendance", section_readers, query=PAGE, path_params={"section_id": "res_section"},
              rows=section_rows("att_student", "att_child", "att_other")),
        Route("courses", "GET", "/attendance", readers, query=PAGE, rows=student_rows("att_student", "att_child", "att_other")),
        Route("courses", "PUT", "/sections/{section_id}/results/{student_id}", recorders,
              path_params={"section_id": "res_section", "student_id": "child"},
              json={"grade": 55.5, "reason": "The re-sit's marks were added."}, expect={"coordinator": 403}),
        Route("courses", "GET", "/sections/{section_id}/results", section_readers, query=PAGE, path_params={"section_id": "res_section"},
              rows=section_rows("result_student", "result_child", "result_other")),
        Route("courses", "GET", "/results", readers, query=PAGE, rows=student_rows("result_student", "result_child", "result_other")),
    ]


ROUTES: list[Route] = [
    # ---------------------------------------------------------------- every service: probes and the caller
    *(r for name in ("gateway", *DOMAIN_SERVICES) for r in _probes(name)),
    *(r for name in DOMAIN_SERVICES for r in _directory(name)),
    *_selection(),
    *_mentoring(),
    *_courses_catalogue(),
    *_courses_applications(),
    *_courses_registration(),
    *_courses_results(),
    # ---------------------------------------------------------------- gateway: docs and keys
    Route("gateway", "GET", "/openapi.json", PUBLIC),
    Route("gateway", "GET", "/docs", PUBLIC),
    Route("gateway", "GET", "/docs/oauth2-redirect", PUBLIC),
    Route("gateway", "GET", "/redoc", PUBLIC),
    Route("gateway", "GET", "/docs/static/{name}", PUBLIC, path_params={"name": "=swagger-ui.css"}),
    Route("gateway", "GET", "/.well-known/jwks.json", PUBLIC),
    # ---------------------------------------------------------------- gateway: tokens
    Route(
        "gateway", "POST", "/auth/token", PUBLIC,
        data={"grant_type": "client_credentials", "client_id": Ref("service_client"), "client_secret": Ref("service_secret")},
    ),
    Route("gateway", "POST", "/auth/revoke", PUBLIC, data={"token": "not-a-token-we-issued"}),
    Route("gateway", "GET", "/auth/me", EVERYONE),
    Route("gateway", "GET", "/auth/clients", ADMIN, query=PAGE, row_key="client_id",
          rows={"admin": at_least("partner_client", "service_client")}),
    Route("gateway", "POST", "/auth/clients", ADMIN,
          json={"client_id": "matrix-new-client", "name": "A new service", "role": "service", "scopes": []}),
    Route("gateway", "GET", "/auth/clients/{client_id}", ADMIN, path_params={"client_id": "service_client"}),
    Route("gateway", "PATCH", "/auth/clients/{client_id}", ADMIN, path_params={"client_id": "service_client"}, json={"name": "Renamed"}),
    Route("gateway", "POST", "/auth/clients/{client_id}/secret", ADMIN, path_params={"client_id": "service_client"}),
    # ---------------------------------------------------------------- gateway: identity
    Route("gateway", "POST", "/identity/schools", ADMIN, json={"name": "matrix new school", "district": "思明区", "level": "high"}),
    Route("gateway", "GET", "/identity/schools", SCHOOL_READERS, query=PAGE,
          # Schools are not personal data: everyone who may list them sees them all.
          rows={role: at_least("school_a", "school_b") for role in SCHOOL_READERS}),
    Route("gateway", "GET", "/identity/schools/{school_id}", SCHOOL_READERS, path_params={"school_id": "school_b"}),
    Route("gateway", "PATCH", "/identity/schools/{school_id}", ADMIN, path_params={"school_id": "school_b"}, json={"district": "湖里区"}),
    Route("gateway", "POST", "/identity/users", ADMIN, json={"username": "matrix-new-user", "display_name": "新同事", "roles": ["staff"]}),
    Route("gateway", "GET", "/identity/users", ADMIN_STAFF, query=PAGE,
          rows={role: at_least("admin", "staff", "expert", "mentor", "coordinator", "student", "guardian", "partner", "child", "other_student")
                for role in ADMIN_STAFF}),
    Route("gateway", "GET", "/identity/users/{user_id}", PEOPLE,
          # Admin and staff read anyone; everyone else only themself.
          path_params={"user_id": {"admin": "student", "staff": "student", "*": "self"}},
          expect={"partner client": 404}),  # a machine client has no account to read
    Route("gateway", "PATCH", "/identity/users/{user_id}", ADMIN, path_params={"user_id": "expert"},
          json={"display_name": "专家甲"}, headers={"If-Match": "*"}),
    Route("gateway", "GET", "/identity/students", STUDENT_READERS, query=PAGE,
          rows={"admin": ALL_STUDENTS, "staff": ALL_STUDENTS, "coordinator": only("student", "child"),
                "guardian": only("child"), "student": only("student")}),
    Route("gateway", "GET", "/identity/students/{student_id}", STUDENT_READERS,
          path_params={"student_id": {"guardian": "child", "*": "student"}}),
    Route("gateway", "PUT", "/identity/students/{student_id}/guardians/{guardian_id}", ADMIN,
          path_params={"student_id": "student", "guardian_id": "guardian"}, json={"relation": "father"}),
    Route("gateway", "DELETE", "/identity/students/{student_id}/guardians/{guardian_id}", ADMIN,
          path_params={"student_id": "child", "guardian_id": "guardian"}),
    Route("gateway", "POST", "/identity/imports/students", frozenset({"admin", "coordinator"}),
          # A coordinator imports into their own school; an admin names the school.
          query={"school_id": Ref("school_a")}, files=_import_file),
    Route("gateway", "POST", "/identity/partners", ADMIN, json={"name": "matrix new university"}),
    Route("gateway", "GET", "/identity/partners", CONSENT_READERS, query=PAGE,
          rows={role: at_least("university", "other_university") for role in CONSENT_READERS}),
    Route("gateway", "GET", "/identity/partners/{partner_id}", CONSENT_READERS, path_params={"partner_id": "other_university"}),
    Route("gateway", "PATCH", "/identity/partners/{partner_id}", ADMIN, path_params={"partner_id": "other_university"}, json={"name": "matrix renamed"}),
    Route("gateway", "GET", "/identity/access-log", ADMIN, query=PAGE, row_key="student_id", rows={"admin": at_least("student")}),
    # ---------------------------------------------------------------- gateway: consent
    Route("gateway", "GET", "/consents/texts", CONSENT_READERS),
    Route("gateway", "GET", "/consents/check", frozenset({"admin", "staff", "service"}),
          query={"student_id": Ref("child"), "purpose": "participation"}),
    Route("gateway", "POST", "/consents", frozenset({"guardian", "student"}), json=_consent_body),
    Route("gateway", "POST", "/consents/{consent_id}/withdraw", frozenset({"guardian", "student"}), path_params={"consent_id": MY_CONSENT}),
    Route("gateway", "GET", "/consents", CONSENT_READERS, query=PAGE,
          rows={"admin": ALL_CONSENTS, "staff": ALL_CONSENTS, "guardian": only("child_participation", "child_sharing"),
                "student": only("student_participation", "student_sharing_withdrawn")}),
    Route("gateway", "GET", "/consents/{consent_id}", CONSENT_READERS, path_params={"consent_id": MY_CONSENT}),
    # ---------------------------------------------------------------- gateway: the directory snapshot
    Route("gateway", "GET", "/directory/people", DIRECTORY_READERS, query=PAGE, row_key="person_id",
          rows={role: at_least("admin", "staff", "expert", "mentor", "coordinator", "student", "guardian", "partner", "child", "other_student")
                for role in DIRECTORY_READERS}),
    Route("gateway", "GET", "/directory/schools", DIRECTORY_READERS, query=PAGE, row_key="school_id",
          rows={role: at_least("school_a", "school_b") for role in DIRECTORY_READERS}),
    Route("gateway", "GET", "/directory/partners", DIRECTORY_READERS, query=PAGE, row_key="partner_id",
          rows={role: at_least("university", "other_university") for role in DIRECTORY_READERS}),
    Route("gateway", "GET", "/directory/guardian-links", DIRECTORY_READERS, query=PAGE, row_key="student_id",
          rows={role: at_least("child") for role in DIRECTORY_READERS}),
    # Consents in force only: not the one the student withdrew.
    Route("gateway", "GET", "/directory/consents", DIRECTORY_READERS, query=PAGE, row_key="consent_id",
          rows={role: at_least("child_participation", "child_sharing", "student_participation", "other_sharing")
                for role in DIRECTORY_READERS}),
    # ---------------------------------------------------------------- gateway: the partner API
    # Only the student whose guardian consented to share with this partner; never the student
    # who withdrew, nor one who consented to another university.
    Route("gateway", "GET", "/partner/students", frozenset({"partner"}), query=PAGE, rows={"partner": only("child")}),
    Route("gateway", "GET", "/partner/students/{student_id}", frozenset({"partner"}), path_params={"student_id": "child"}),
]


@dataclass(frozen=True)
class Denial:
    """A caller allowed on the route, asking for a row that is not theirs: refused all the same."""

    method: str
    path: str
    caller: str
    path_params: Mapping[str, str]
    status: int
    code: str
    why: str
    service: str = "gateway"


# Row-level rules on single records: out of scope is answered like "no such record" (404),
# except where the refusal itself is the answer the caller needs (a missing consent, 403).
DENIALS: list[Denial] = [
    Denial("GET", "/identity/students/{student_id}", "coordinator", {"student_id": "other_student"}, 404, "student_not_found",
           "a coordinator sees only their school's students"),
    Denial("GET", "/identity/students/{student_id}", "guardian", {"student_id": "student"}, 404, "student_not_found",
           "a guardian sees only their own child"),
    Denial("GET", "/identity/students/{student_id}", "student", {"student_id": "child"}, 404, "student_not_found",
           "a student sees only themself"),
    Denial("GET", "/identity/users/{user_id}", "expert", {"user_id": "student"}, 404, "user_not_found",
           "only admin and staff read other people's accounts"),
    Denial("GET", "/consents/{consent_id}", "guardian", {"consent_id": "student_participation"}, 404, "consent_not_found",
           "a guardian sees only their children's consents"),
    Denial("GET", "/consents/{consent_id}", "student", {"consent_id": "child_participation"}, 404, "consent_not_found",
           "a student sees only their own consents"),
    Denial("POST", "/consents/{consent_id}/withdraw", "guardian", {"consent_id": "student_participation"}, 404, "consent_not_found",
           "a guardian withdraws only their children's consents"),
    Denial("GET", "/partner/students/{student_id}", "partner client", {"student_id": "student"}, 403, "consent_required",
           "the student withdrew their consent to share with this partner"),
    Denial("GET", "/partner/students/{student_id}", "partner", {"student_id": "other_student"}, 403, "consent_required",
           "the student consented to share with another university only"),
    # Every domain service scopes its view of the directory as the gateway scopes its own.
    *(
        Denial("GET", "/directory/students/{student_id}", caller, {"student_id": student}, 404, "student_not_found", why, service)
        for service in DOMAIN_SERVICES
        for caller, student, why in (
            ("coordinator", "other_student", "a coordinator sees only their school's students"),
            ("guardian", "student", "a guardian sees only their own child"),
            ("student", "child", "a student sees only themself"),
        )
    ),
    # projects: another's project, defense or panel.
    *(Denial(method, path, caller, params, 404, code, why, "mentoring") for method, path, caller, params, code, why in (
        ("GET", "/projects/{project_id}", "student", {"project_id": "project_b"}, "mentoring_project_not_found",
         "a student reads only the projects they are a member of"),
        ("GET", "/projects/{project_id}", "coordinator", {"project_id": "project_b"}, "mentoring_project_not_found",
         "a coordinator reads only the projects of their school's students"),
        ("POST", "/projects/{project_id}/milestones", "mentor", {"project_id": "project_b"}, "mentoring_project_not_found",
         "a judge of a project's defense sets none of its milestones"),
        ("GET", "/defenses/{defense_id}", "student", {"defense_id": "defense_b"}, "mentoring_defense_not_found",
         "a student reads only their projects' defenses"),
        ("PUT", "/defenses/{defense_id}/scores", "mentor", {"defense_id": "defense_a"}, "mentoring_not_a_judge",
         "a project's own mentor is not on its panel"),
        ("GET", "/defenses/{defense_id}/scores", "mentor", {"defense_id": "defense_a"}, "mentoring_not_a_judge",
         "only the panel reads a defense's scores"),
    )),
    # tracking: another's enrolment, its history and timeline.
    *(Denial("GET", path, caller, {"student_id": student}, 404, code, why, "tracking")
      for path, code in (("/enrolments/{student_id}", "tracking_enrolment_not_found"),
                         ("/enrolments/{student_id}/history", "tracking_enrolment_not_found"),
                         ("/students/{student_id}/timeline", "student_not_found"))
      for caller, student, why in (
          ("coordinator", "other_student", "a coordinator sees only their school's students"),
          ("guardian", "student", "a guardian sees only their own child"),
          ("student", "child", "a student sees only themself"),
          ("mentor", "child", "a mentor sees only their mentees"),
      )),
]


TRACKING_READERS = frozenset({"admin", "staff", "coordinator", "mentor", "student", "guardian"})


def _tracking_scoped(student: str, child: str, other: str | None = None) -> dict[str, Rows]:
    """Rows of the student, the child (the guardian's) and the other student (school B): each reader's."""
    every = (student, child, *([other] if other else []))
    return {"admin": at_least(*every), "staff": at_least(*every), "coordinator": only(student, child), "mentor": only(student),
            "student": only(student), "guardian": only(child)}


def _tracking_enrolment() -> list[Route]:
    """Enrolment (services/tracking/enrolment/): scoped reads; staff advance the school year."""
    mine = {"guardian": "child", "*": "student"}
    history = {role: only("change_student_admitted") for role in TRACKING_READERS} | {"guardian": only("change_child_admitted")}
    return [
        Route("tracking", "GET", "/enrolments", TRACKING_READERS, query=PAGE, row_key="student_id",
              rows=_tracking_scoped("student", "child", "other_student")),
        Route("tracking", "GET", "/enrolments/{student_id}", TRACKING_READERS, path_params={"student_id": mine}),
        Route("tracking", "GET", "/enrolments/{student_id}/history", TRACKING_READERS, query=PAGE, path_params={"student_id": mine},
              rows=history),
        Route("tracking", "POST", "/school-years/advance", frozenset({"staff"}), json={"school_year": 2090}),
        Route("tracking", "GET", "/school-years", ADMIN_STAFF, query=PAGE, row_key="school_year", rows={r: at_least() for r in ADMIN_STAFF}),
    ]


def _tracking_timeline() -> list[Route]:
    """Timelines (services/tracking/timeline/): a student's, read by whoever may see the student."""
    ours = only("tl_student_admitted", "tl_student_mentor")
    return [
        Route("tracking", "GET", "/students/{student_id}/timeline", TRACKING_READERS, query=PAGE, row_key="event_id",
              path_params={"student_id": {"guardian": "child", "*": "student"}},
              rows={role: ours for role in TRACKING_READERS} | {"guardian": only("tl_child_admitted")}),
    ]


ROUTES += [*_tracking_enrolment(), *_tracking_timeline()]
