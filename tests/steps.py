"""Steps of a scenario that build on each other (the next night after the first), shared by a module's tests
without depending on their order.

Each test names the step it checks; `reach` first runs the steps before it that have not run, once each and in
order, whichever test asks first. So a test passes or fails the same run alone (`-k`), in file order or in
reverse, and the module still runs each step once. A step that failed is not run again: every test that needs it
fails with the step's own error."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Step = Callable[[Any], None]


class Steps:
    """The steps, in order, each called with `context` (the module fixture's object)."""

    def __init__(self, context: Any, *steps: Step) -> None:
        self.context = context
        self.steps = steps
        self.outcome: dict[Step, BaseException | None] = {}

    def reach(self, step: Step) -> None:
        """Run every step up to and including `step` that has not run yet."""
        for earlier in self.steps[: self.steps.index(step) + 1]:
            if earlier in self.outcome:
                failure = self.outcome[earlier]
                if failure is not None:
                    raise failure
                continue
            try:
                earlier(self.context)
            except KeyboardInterrupt:
                raise
            except BaseException as exc:  # an assertion, an error, or pytest.fail/skip inside the step
                self.outcome[earlier] = exc
                raise
            self.outcome[earlier] = None
