"""``bench/learning.py experiences``: is the best-rewarded action first? A generated task set.

The task set (``TASKS`` below, the project's own): twelve situations an agent
meets, each worded five ways, each with three or four actions and the reward
each action truly earns (-1 to 1). For each draw (seeded), every action of every
situation is recorded ``--trials`` times with ``record_experience``, each time
under one of the first four wordings, with its true reward plus noise
(uniform in +-``--noise``, clipped to [-1, 1]), in one namespace, in a shuffled
order over the last 60 days. Then each situation is recalled under its fifth
wording, never recorded (a similar situation, not the same text), with
``recall_experiences``.

A recall succeeds when its top experience's action is the situation's
best-rewarded action. Reported: the share of successes with engramdb's ranking
(similarity and reward, an older reward counting less), against the
similarity-only ranking of the same hits (the experience whose situation is
nearest first), and the share whose top experience is of the right situation at
all, over ``--draws`` draws.
"""

from __future__ import annotations

import argparse
import random
from datetime import UTC, datetime, timedelta

from engramdb import FixedClock, Memory

#: situation wordings (the last is only ever asked), then (action, true reward)
TASKS: tuple[tuple[tuple[str, ...], tuple[tuple[str, float], ...]], ...] = (
    (
        (
            "the deploy failed because the database migration timed out",
            "a database migration hit its timeout during the release",
            "release blocked: schema migration took too long and was killed",
            "the rollout stopped when the migration step ran past its time limit",
            "our deployment broke since the DB migration exceeded the timeout",
        ),
        (
            ("run the migration in smaller batches", 0.9),
            ("raise the timeout and retry", 0.2),
            ("roll back the release", -0.1),
            ("restart the database server", -0.7),
        ),
    ),
    (
        (
            "a customer asks for a refund because the order arrived late",
            "the client wants their money back since the parcel came a week late",
            "refund request: delivery was delayed past the promised date",
            "a buyer complains the package was late and demands a refund",
            "someone is asking to be reimbursed because shipping took too long",
        ),
        (
            ("apologise and refund the shipping cost", 0.8),
            ("offer a discount code for the next order", 0.3),
            ("explain the courier's delay policy", -0.4),
        ),
    ),
    (
        (
            "the test suite fails at random on the CI server",
            "flaky tests keep breaking the continuous integration build",
            "CI is red intermittently though nothing changed in the code",
            "some tests pass locally but sometimes fail in the pipeline",
            "our build pipeline has tests that fail now and then for no reason",
        ),
        (
            ("find the shared state between tests and isolate it", 0.9),
            ("rerun the failed job", -0.2),
            ("mark the failing tests as skipped", -0.5),
        ),
    ),
    (
        (
            "a user cannot log in after resetting their password",
            "login fails for someone who just changed their password",
            "after a password reset the account refuses to sign in",
            "the customer reset the password and still gets access denied",
            "someone changed their password and now sign-in does not work",
        ),
        (
            ("clear the old sessions and cached credentials", 0.8),
            ("ask them to reset the password again", -0.3),
            ("unlock the account manually", 0.4),
            ("tell them to try another browser", -0.1),
        ),
    ),
    (
        (
            "the tomato plants are wilting in the afternoon heat",
            "my tomatoes droop every hot afternoon",
            "the garden tomatoes look limp when the sun is strongest",
            "tomato leaves hang down during the hottest part of the day",
            "in the summer heat the tomato plants sag by mid afternoon",
        ),
        (
            ("water deeply early in the morning and mulch", 0.9),
            ("water them at midday", -0.2),
            ("add more fertiliser", -0.6),
        ),
    ),
    (
        (
            "the toddler refuses to go to bed at night",
            "my two-year-old fights bedtime every evening",
            "putting the little one to sleep turns into a battle",
            "our toddler screams whenever it is time to sleep",
            "the small child will not settle down for bed in the evening",
        ),
        (
            ("keep the same calm bedtime routine every night", 0.8),
            ("let them stay up until they are tired", -0.5),
            ("give a screen to calm them down", -0.7),
        ),
    ),
    (
        (
            "the laptop runs out of memory when the data notebook loads the file",
            "loading the big CSV in the notebook crashes with out of memory",
            "the analysis kernel dies reading the large dataset",
            "pandas uses all the RAM when opening the file",
            "opening the huge data file makes the notebook run out of memory",
        ),
        (
            ("read the file in chunks with only the needed columns", 0.9),
            ("close other programs and retry", -0.1),
            ("buy more RAM", 0.1),
        ),
    ),
    (
        (
            "a teammate keeps missing the deadlines we agreed on",
            "one colleague is always late delivering their part",
            "a coworker repeatedly misses due dates on the project",
            "my team member does not finish tasks on time",
            "someone on the team keeps slipping past the agreed deadlines",
        ),
        (
            ("talk privately about what blocks them", 0.8),
            ("escalate to their manager at once", -0.3),
            ("quietly do their part yourself", -0.6),
        ),
    ),
    (
        (
            "the dog barks at every stranger walking past the window",
            "my dog goes wild barking at people outside the house",
            "our puppy barks nonstop at passers-by",
            "the dog will not stop barking when someone walks by",
            "every time a person passes the front window the dog barks loudly",
        ),
        (
            ("reward calm behaviour and block the view of the street", 0.8),
            ("shout at the dog to be quiet", -0.6),
            ("ignore it and wait", -0.1),
        ),
    ),
    (
        (
            "the website is slow because the home page makes too many database queries",
            "page loads crawl since each request runs hundreds of SQL queries",
            "the front page is sluggish from an N plus one query problem",
            "our site takes seconds to render the landing page due to many DB calls",
            "the homepage is slow: it queries the database for every item separately",
        ),
        (
            ("load the related rows in one joined query", 0.9),
            ("add a bigger database server", 0.1),
            ("cache the whole page for a day", 0.3),
        ),
    ),
    (
        (
            "I cannot fall asleep because I keep thinking about work",
            "my mind races about the job when I try to sleep",
            "work worries keep me awake at night",
            "lying in bed I can't stop going over tomorrow's tasks",
            "thoughts about work stop me from getting to sleep",
        ),
        (
            ("write tomorrow's tasks down before bed", 0.8),
            ("check email in bed to feel prepared", -0.7),
            ("have a glass of wine", -0.3),
        ),
    ),
    (
        (
            "the car battery is dead on a cold morning",
            "the car won't start after a freezing night",
            "on a frosty morning the engine does not turn over",
            "my car is dead this cold morning, the battery seems flat",
            "the car refuses to start when it is icy outside",
        ),
        (
            ("jump start it and then drive for half an hour", 0.8),
            ("keep turning the key until it starts", -0.6),
            ("pour warm water on the engine", -0.8),
        ),
    ),
)


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--draws", type=int, default=5)
    parser.add_argument("--trials", type=int, default=2, help="records of each action per draw")
    parser.add_argument("--verbose", action="store_true", help="show the recalls that failed")
    parser.add_argument("--noise", type=float, default=0.3, help="reward noise, +- this")


def run(args: argparse.Namespace) -> int:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    now = start + timedelta(days=60)
    engram = similar = situation = total = 0
    with Memory(":memory:", clock=FixedClock(now)) as memory:
        for draw in range(args.draws):
            rng = random.Random(args.seed * 1_000 + draw)
            namespace = f"draw-{draw}"
            plan = [
                (task, action, reward)
                for task, (_, actions) in enumerate(TASKS)
                for action, reward in actions
                for _ in range(args.trials)
            ]
            rng.shuffle(plan)
            for step, (task, action, reward) in enumerate(plan):
                wordings = TASKS[task][0][:-1]
                noisy = max(-1.0, min(1.0, reward + rng.uniform(-args.noise, args.noise)))
                memory.record_experience(
                    rng.choice(wordings),
                    action,
                    f"reward {noisy:+.2f}",
                    noisy,
                    namespace=namespace,
                    occurred_at=start + timedelta(days=60 * step / len(plan)),
                )
            for wordings, actions in TASKS:
                best = max(actions, key=lambda a: a[1])[0]
                known = {a for a, _ in actions}
                hits = memory.recall_experiences(
                    wordings[-1], namespace=namespace, limit=50, now=now, reinforce=False
                )
                # similarity alone; among equal situations, the latest recorded first
                nearest = max(hits, key=lambda h: (h.similarity, h.experience.occurred_at))
                total += 1
                engram += hits[0].experience.action == best
                similar += nearest.experience.action == best
                situation += hits[0].experience.action in known
                if args.verbose and hits[0].experience.action != best:
                    for h in hits[:4]:
                        e = h.experience
                        print(f"  {h.score:.3f} {h.similarity:.3f} {e.reward:+.2f} {e.action}")
    print(
        f"{total} recalls ({args.draws} draws x {len(TASKS)} situations, "
        f"{args.trials} records of each action, reward noise +-{args.noise})"
    )
    print(f"best-rewarded action first, engramdb (similarity and reward): {engram / total:.3f}")
    print(f"best-rewarded action first, similarity only:                  {similar / total:.3f}")
    print(f"top experience of the right situation, engramdb:              {situation / total:.3f}")
    return 0
