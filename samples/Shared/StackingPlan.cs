namespace Lifeguard.Samples;

// The JSON that python/optimizer.py returns, as records, shared by the samples that call it (linked into each
// project). The gateway answers with them, so a plan that does not have this shape fails in the gateway instead of
// reaching the client. The pool maps PascalCase members to Python's snake_case keys (TotalDistanceKm is
// "total_distance_km") and binds strictly: a plan missing a member, or with null for one not nullable here, is a
// PythonSerializationException naming it. The gateway then answers with ASP.NET Core's camelCase.

/// <summary>The plan of one batch of deliveries.</summary>
public sealed record StackingPlan(
    string? Batch,
    IReadOnlyList<CourierStack> Stacks,
    IReadOnlyList<CourierTotal> Couriers,
    int Deliveries,
    int StackedDeliveries,
    int LateDeliveries,
    double TotalDistanceKm);

/// <summary>Deliveries one courier carries together, the route's stops, and when it sets off and finishes (minutes).</summary>
public sealed record CourierStack(
    string Courier,
    IReadOnlyList<string> Deliveries,
    IReadOnlyList<Stop> Stops,
    double DistanceKm,
    double StartAt,
    double FinishAt,
    IReadOnlyList<string> Late);

/// <summary>A pickup or a dropoff: where (km on the city grid) and when the courier arrives (minutes).</summary>
public sealed record Stop(string Kind, string Delivery, IReadOnlyList<double> At, double Eta);

/// <summary>What one courier does in the plan.</summary>
public sealed record CourierTotal(string Id, int Stacks, int Deliveries, double DistanceKm, double FinishAt);
