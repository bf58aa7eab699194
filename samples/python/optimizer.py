"""Delivery stacking: group the deliveries one courier can carry together, and give each group to a courier.

The problem of Stuart's "Monocle" gateway: a client sends a batch of deliveries and wants those close in place and
time stacked on one courier. JSON in, JSON out; standard library only, deterministic (ties broken by id).

Input, one batch (a dict; the defaults apply to missing fields):

    {
      "batch": "b0001",                  a label, echoed back
      "capacity": 6,                     size units a courier carries at once (default 6)
      "speed_km_per_min": 0.3,           courier speed (default 0.3, i.e. 18 km/h)
      "max_pickup_spread_km": 1.0,       how far a stack's pickups may be from its first one (default 1.0)
      "couriers": [{"id": "c1", "at": [x, y]}, ...],
      "deliveries": [
        {"id": "d01", "pickup": [x, y], "dropoff": [x, y], "size": 2, "ready_at": 5, "due_by": 50},
        ...
      ]
    }

Coordinates are kilometres on a street grid, so distances are Manhattan (|dx| + |dy|). Times are minutes from the
start of the batch: a parcel can be collected from ``ready_at`` and must be dropped off by ``due_by``. Every courier
is free at minute 0. Each stop, pickup or dropoff, takes SERVICE_MIN minutes.

Method (greedy, in order of due time):
 1. Seed. The unplanned delivery due first seeds a stack, and goes to the courier that would deliver it with the
    fewest late parcels, then the least total lateness, then the earliest finish.
 2. Stack. The other unplanned deliveries whose pickup is within max_pickup_spread_km of the seed's are offered to the
    stack, nearest first. One is accepted if it fits the capacity and, on that courier's route, makes no parcel
    late that was on time and adds no lateness.
 3. Courier. The whole stack goes to the best courier by the same order as in 1, which sets off from where its
    previous stack ended, once done with it. Repeat until every delivery is planned.
A route collects every parcel of its stack first (nearest pickup next), then drops them off (nearest dropoff next).

Output, the plan:

    {
      "batch": "b0001",
      "stacks": [{"courier": "c1", "deliveries": ["d01", "d04"],
                  "stops": [{"kind": "pickup", "delivery": "d01", "at": [x, y], "eta": 12.5}, ...],
                  "distance_km": 7.3, "start_at": 0.0, "finish_at": 41.2, "late": []}, ...],
      "couriers": [{"id": "c1", "stacks": 2, "deliveries": 5, "distance_km": 12.9, "finish_at": 88.0}, ...],
      "deliveries": 14, "stacked_deliveries": 9, "late_deliveries": 0, "total_distance_km": 41.8
    }

A stack's ``distance_km`` includes the courier's ride to its first pickup; ``eta`` is the arrival at a stop, in
minutes; ``late`` lists the deliveries dropped off after their ``due_by`` (when couriers are too few or too far).
``stacked_deliveries`` counts the deliveries that share a stack with another.

The same shapes are written as type hints below: optimize takes a DeliveryBatch and returns a StackingPlan, TypedDicts
(plain dicts at run time), from which a .NET project generates its records and a typed optimize (a
LifeguardPythonModule).

Invalid input raises ValueError naming the offending delivery or field.
"""

import collections
import math
from typing import List, Literal, Optional, TypedDict

SERVICE_MIN = 2.0
DEFAULT_CAPACITY = 6
DEFAULT_SPEED_KM_PER_MIN = 0.3
DEFAULT_MAX_PICKUP_SPREAD_KM = 1.0

Point = List[float]  # [x, y] in km on the street grid


class Courier(TypedDict):
    """A courier and where it is at minute 0."""

    id: str
    at: Point


class _DeliveryKeys(TypedDict):
    id: str
    "The delivery's id, unique in its batch."
    pickup: Point
    dropoff: Point


class Delivery(_DeliveryKeys, total=False):
    """A parcel to collect at its pickup from minute ready_at and to drop off by minute due_by."""

    size: float
    "Size units (default 1)."
    ready_at: float
    "The minute from which the parcel can be collected (default 0)."
    due_by: float
    "The minute by which it must be dropped off (default: no limit)."


class _DeliveryBatchKeys(TypedDict):
    couriers: List[Courier]
    deliveries: List[Delivery]


class DeliveryBatch(_DeliveryBatchKeys, total=False):
    """One batch of deliveries and the couriers available for it."""

    batch: str
    "A label, echoed back in the plan."
    capacity: float
    "Size units a courier carries at once (default 6)."
    speed_km_per_min: float
    "Courier speed (default 0.3 km a minute)."
    max_pickup_spread_km: float
    "How far a stack's pickups may be from its first one (default 1 km)."


class Stop(TypedDict):
    """A pickup or a dropoff: where, and when the courier arrives (minutes)."""

    kind: Literal["pickup", "dropoff"]
    delivery: str
    at: Point
    eta: float


class CourierStack(TypedDict):
    """Deliveries one courier carries together, the route's stops, and when it sets off and finishes (minutes)."""

    courier: str
    deliveries: List[str]
    stops: List[Stop]
    distance_km: float
    start_at: float
    finish_at: float
    late: List[str]


class CourierTotal(TypedDict):
    """What one courier does in the plan."""

    id: str
    stacks: int
    deliveries: int
    distance_km: float
    finish_at: float


class StackingPlan(TypedDict):
    """The plan of one batch of deliveries."""

    batch: Optional[str]
    stacks: List[CourierStack]
    couriers: List[CourierTotal]
    deliveries: int
    stacked_deliveries: int
    late_deliveries: int
    total_distance_km: float


_Delivery = collections.namedtuple("_Delivery", "id pickup dropoff size ready_at due_by")
_Courier = collections.namedtuple("_Courier", "id at")
_Route = collections.namedtuple("_Route", "stops distance finish late lateness")


def optimize(batch: DeliveryBatch) -> StackingPlan:
    """Plans one batch of deliveries: stacks of nearby ones, each given to the courier that delivers it best."""
    if not isinstance(batch, dict):
        raise ValueError("a batch must be a JSON object, not %s" % type(batch).__name__)
    capacity = _number(batch.get("capacity", DEFAULT_CAPACITY), "capacity", minimum=1)
    speed = _number(batch.get("speed_km_per_min", DEFAULT_SPEED_KM_PER_MIN), "speed_km_per_min", minimum=0.001)
    spread = _number(batch.get("max_pickup_spread_km", DEFAULT_MAX_PICKUP_SPREAD_KM), "max_pickup_spread_km", minimum=0)
    deliveries = [_delivery(item, i, capacity) for i, item in enumerate(_list(batch, "deliveries"))]
    couriers = [_courier(item, i) for i, item in enumerate(_list(batch, "couriers"))]
    _unique(deliveries, "deliveries")
    _unique(couriers, "couriers")
    if deliveries and not couriers:
        raise ValueError("a batch with deliveries needs at least one courier")

    return _plan(batch.get("batch"), deliveries, couriers, capacity, speed, spread)


def _plan(label, deliveries, couriers, capacity, speed, spread):
    where = {c.id: (c.at, 0.0) for c in couriers}  # where each courier will be free, and from when
    pending = sorted(deliveries, key=lambda d: (d.due_by, d.ready_at, d.id))
    stacks = []
    while pending:
        seed = pending.pop(0)
        stack, load = [seed], seed.size
        courier, route = _best_courier(stack, couriers, where, speed)
        nearby = [d for d in pending if _distance(d.pickup, seed.pickup) <= spread]
        for candidate in sorted(nearby, key=lambda d: (_distance(d.pickup, seed.pickup), d.due_by, d.id)):
            if load + candidate.size > capacity:
                continue
            trial = _route(stack + [candidate], *where[courier.id], speed)
            # Stacking must not make a parcel late, nor a late one later.
            if set(trial.late) <= set(route.late) and trial.lateness <= route.lateness + 1e-9:
                stack, load, route = stack + [candidate], load + candidate.size, trial
        for member in stack[1:]:
            pending.remove(member)
        # The whole stack may suit another courier better than its seed did.
        courier, route = _best_courier(stack, couriers, where, speed)
        start = where[courier.id][1]
        where[courier.id] = (route.stops[-1]["at"], route.finish)
        stacks.append((courier, stack, route, start))
    return _summary(label, stacks, couriers)


def _best_courier(stack, couriers, where, speed):
    """The courier delivering the stack with the fewest late parcels, then the least lateness, then soonest."""
    routes = [(c, _route(stack, *where[c.id], speed)) for c in couriers]
    return min(routes, key=lambda cr: (len(cr[1].late), round(cr[1].lateness, 6), round(cr[1].finish, 6), cr[0].id))


def _route(stack, start, clock, speed):
    """Simulates a courier leaving ``start`` at minute ``clock`` to collect, then deliver, every parcel of a stack."""
    stops, late = [], []
    distance = lateness = 0.0
    position = start
    for kind in ("pickup", "dropoff"):
        remaining = list(stack)
        while remaining:
            nearest = min(remaining, key=lambda d: (_distance(position, getattr(d, kind)), d.id))
            remaining.remove(nearest)
            target = getattr(nearest, kind)
            leg = _distance(position, target)
            distance += leg
            clock += leg / speed
            stops.append({"kind": kind, "delivery": nearest.id, "at": list(target), "eta": round(clock, 1)})
            if kind == "pickup":
                clock = max(clock, nearest.ready_at)
            elif clock > nearest.due_by:
                late.append(nearest.id)
                lateness += clock - nearest.due_by
            clock += SERVICE_MIN
            position = target
    return _Route(stops, distance, clock, late, lateness)


def _summary(label, stacks, couriers):
    totals = {c.id: {"id": c.id, "stacks": 0, "deliveries": 0, "distance_km": 0.0, "finish_at": 0.0} for c in couriers}
    planned = []
    for courier, stack, route, start in stacks:
        total = totals[courier.id]
        total["stacks"] += 1
        total["deliveries"] += len(stack)
        total["distance_km"] += route.distance
        total["finish_at"] = round(route.finish, 1)
        planned.append({
            "courier": courier.id,
            "deliveries": [d.id for d in stack],
            "stops": route.stops,
            "distance_km": round(route.distance, 2),
            "start_at": round(start, 1),
            "finish_at": round(route.finish, 1),
            "late": route.late,
        })
    for total in totals.values():
        total["distance_km"] = round(total["distance_km"], 2)
    return {
        "batch": label,
        "stacks": planned,
        "couriers": [totals[c.id] for c in couriers],
        "deliveries": sum(len(stack) for _, stack, _, _ in stacks),
        "stacked_deliveries": sum(len(stack) for _, stack, _, _ in stacks if len(stack) > 1),
        "late_deliveries": sum(len(p["late"]) for p in planned),
        "total_distance_km": round(sum(t["distance_km"] for t in totals.values()), 2),
    }


def _distance(a, b):
    return abs(a[0] - b[0]) + abs(a[1] - b[1])


# Validation: every message names what is wrong and where, since it reaches the .NET caller as a PythonException.


def _delivery(item, index, capacity):
    if not isinstance(item, dict):
        raise ValueError("deliveries[%d] must be an object" % index)
    name = _id(item, "deliveries[%d]" % index)
    where = "delivery %r" % name
    size = _number(item.get("size", 1), where + " size", minimum=1)
    if size > capacity:
        raise ValueError("%s has size %s, more than a courier's capacity of %s" % (where, size, capacity))
    ready_at = _number(item.get("ready_at", 0), where + " ready_at", minimum=0)
    due_by = _number(item.get("due_by", math.inf), where + " due_by", minimum=0)
    if due_by < ready_at:
        raise ValueError("%s is due by minute %s, before it is ready at minute %s" % (where, due_by, ready_at))
    pickup = _point(item.get("pickup"), where + " pickup")
    dropoff = _point(item.get("dropoff"), where + " dropoff")
    return _Delivery(name, pickup, dropoff, size, ready_at, due_by)


def _courier(item, index):
    if not isinstance(item, dict):
        raise ValueError("couriers[%d] must be an object" % index)
    name = _id(item, "couriers[%d]" % index)
    return _Courier(name, _point(item.get("at"), "courier %r at" % name))


def _list(batch, key):
    value = batch.get(key, [])
    if not isinstance(value, list):
        raise ValueError("%s must be a list" % key)
    return value


def _id(item, where):
    value = item.get("id")
    if not isinstance(value, str) or not value:
        raise ValueError("%s needs an id, a non-empty string" % where)
    return value


def _unique(items, what):
    seen = set()
    for item in items:
        if item.id in seen:
            raise ValueError("two %s have the id %r" % (what, item.id))
        seen.add(item.id)


def _number(value, what, minimum):
    if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value):
        raise ValueError("%s must be a number (was %r)" % (what, value))
    if value < minimum:
        raise ValueError("%s must be at least %s (was %r)" % (what, minimum, value))
    return value


def _point(value, what):
    if not isinstance(value, list) or len(value) != 2:
        raise ValueError("%s must be a point [x, y] in km (was %r)" % (what, value))
    x, y = (_number(v, what, minimum=-math.inf) for v in value)
    if math.isinf(x) or math.isinf(y):
        raise ValueError("%s must be finite (was %r)" % (what, value))
    return (x, y)
