"""The rate limit's arithmetic: a bucket of `burst` requests, refilled steadily."""

from services.gateway.limits.buckets import TokenBuckets


def test_a_caller_may_burst_then_waits_for_the_refill():
    buckets = TokenBuckets(per_minute=60, burst=3)  # one request a second
    decisions = [buckets.take("a", now=100.0) for _ in range(4)]

    assert [d.allowed for d in decisions] == [True, True, True, False]
    assert [d.remaining for d in decisions] == [2, 1, 0, 0]
    assert all(d.limit == 3 for d in decisions)
    refused = decisions[-1]
    assert refused.retry_after == 1 and refused.reset == 3

    assert buckets.take("a", now=100.5).allowed is False
    later = buckets.take("a", now=101.01)
    assert later.allowed and later.remaining == 0


def test_callers_have_separate_buckets_and_a_full_bucket_never_overfills():
    buckets = TokenBuckets(per_minute=600, burst=2)
    assert buckets.take("a", now=0.0).allowed and buckets.take("a", now=0.0).allowed
    assert not buckets.take("a", now=0.0).allowed
    assert buckets.take("b", now=0.0).allowed
    idle = buckets.take("b", now=10_000.0)
    assert idle.allowed and idle.remaining == 1


def test_reset_counts_the_seconds_until_the_bucket_is_full_again():
    buckets = TokenBuckets(per_minute=6, burst=3)  # one request every 10 s
    buckets.take("a", now=0.0)
    d = buckets.take("a", now=0.0)
    assert d.remaining == 1 and d.reset == 20
    refused = [buckets.take("a", now=0.0) for _ in range(2)][-1]
    assert not refused.allowed and refused.retry_after == 10 and refused.reset == 30


def test_memory_stays_bounded_under_a_flood_of_callers():
    buckets = TokenBuckets(per_minute=60, burst=5, max_keys=1000)
    for i in range(10_000):
        buckets.take(f"10.0.{i // 256}.{i % 256}", now=float(i) / 1000)
    assert len(buckets) <= 1000
    # Idle callers whose buckets have refilled are dropped first.
    for i in range(500):
        buckets.take(f"caller-{i}", now=1000.0)
    assert len(buckets) <= 1000
