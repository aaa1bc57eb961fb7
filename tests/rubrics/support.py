"""Made-up panels with a known truth: subjects of known ability, raters of known severity, scores with known noise."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Panel:
    """Who rated whom and how, with the truth the scores were drawn from."""

    level: float
    ability: np.ndarray  # per subject, mean 0 over the subjects
    effect: np.ndarray  # b per rater, summing to 0: negative = severe
    noise_sd: float
    ratings: list[tuple[int, int, float]]  # (subject, rater, score)

    @property
    def true_score(self) -> np.ndarray:
        """Each subject's score as an average rater with no noise would give it."""
        return self.level + self.ability

    def ratings_per_rater(self) -> np.ndarray:
        return np.bincount([rater for _, rater, _ in self.ratings], minlength=len(self.effect))


def generated_panel(
    *, subjects: int, raters: int, per_subject: int, seed: int, noise_sd: float = 2.0, ability_sd: float = 10.0,
    effect_sd: float = 3.0, level: float = 60.0,
) -> Panel:
    """Each subject scored by `per_subject` distinct raters drawn at random: level + a + b + noise."""
    rng = np.random.default_rng(seed)
    ability = rng.normal(0.0, ability_sd, subjects)
    ability -= ability.mean()
    effect = rng.normal(0.0, effect_sd, raters)
    effect -= effect.mean()
    chosen = rng.random((subjects, raters)).argsort(axis=1)[:, :per_subject]
    return Panel(level, ability, effect, noise_sd, scored(chosen, level, ability, effect, noise_sd, rng))


def scored(
    chosen: np.ndarray, level: float, ability: np.ndarray, effect: np.ndarray, noise_sd: float, rng: np.random.Generator,
) -> list[tuple[int, int, float]]:
    """The ratings of each subject (row) by the raters chosen for it (its entries)."""
    subject = np.repeat(np.arange(len(chosen)), chosen.shape[1])
    rater = chosen.ravel()
    score = level + ability[subject] + effect[rater] + rng.normal(0.0, noise_sd, len(rater))
    return list(zip(subject.tolist(), rater.tolist(), score.tolist(), strict=True))
