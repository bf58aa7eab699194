using System.Text.Json.Serialization;

namespace Lifeguard.Samples.WebGateway;

// What a client posts to /stack: one batch of deliveries, the optimiser's input (see the docstring of
// python/optimizer.py) with ASP.NET Core's camelCase keys ("readyAt"). The records are passed to Python as they are,
// and the pool writes their members with Python's snake_case keys ("ready_at"); optional values left out stay out
// (WhenWritingNull), so the optimiser applies its own defaults instead of receiving nulls.

/// <summary>One batch of deliveries and the couriers available for it.</summary>
public sealed record StackingRequest
{
    /// <summary>The most deliveries one request may carry: the optimiser is quadratic in them.</summary>
    public const int MaxDeliveries = 500;

    /// <summary>The most couriers one request may offer.</summary>
    public const int MaxCouriers = 100;

    /// <summary>A label, echoed back in the plan.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? Batch { get; init; }

    /// <summary>Size units a courier carries at once (the optimiser's default: 6).</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public double? Capacity { get; init; }

    /// <summary>Courier speed (the optimiser's default: 0.3 km a minute).</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public double? SpeedKmPerMin { get; init; }

    /// <summary>How far a stack's pickups may be from its first one (the optimiser's default: 1 km).</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public double? MaxPickupSpreadKm { get; init; }

    /// <summary>The couriers, each with where it starts.</summary>
    public IReadOnlyList<CourierPosition>? Couriers { get; init; }

    /// <summary>The deliveries to plan.</summary>
    public IReadOnlyList<DeliveryRequest>? Deliveries { get; init; }

    /// <summary>
    /// Checks the request's shape: what the gateway needs to pass it on. The errors are keyed by the JSON path of the
    /// offending value, as in a validation problem; empty when the request is well formed. Whether its values make a
    /// plannable batch (sizes within capacity, due after ready, unique ids) is the optimiser's to say.
    /// </summary>
    public Dictionary<string, string[]> Validate()
    {
        var errors = new Dictionary<string, string[]>(StringComparer.Ordinal);
        if (Deliveries is not { Count: > 0 and <= MaxDeliveries })
        {
            errors["deliveries"] = [$"Between 1 and {MaxDeliveries} deliveries are required."];
        }
        else
        {
            for (var i = 0; i < Deliveries.Count; i++)
            {
                var where = $"deliveries[{i}]";
                if (Deliveries[i] is not { } delivery)
                {
                    errors[where] = ["A delivery is an object."];
                    continue;
                }

                RequireId(errors, where, delivery.Id);
                RequirePoint(errors, where + ".pickup", delivery.Pickup);
                RequirePoint(errors, where + ".dropoff", delivery.Dropoff);
            }
        }

        if (Couriers is not { Count: > 0 and <= MaxCouriers })
        {
            errors["couriers"] = [$"Between 1 and {MaxCouriers} couriers are required."];
        }
        else
        {
            for (var i = 0; i < Couriers.Count; i++)
            {
                var where = $"couriers[{i}]";
                if (Couriers[i] is not { } courier)
                {
                    errors[where] = ["A courier is an object."];
                    continue;
                }

                RequireId(errors, where, courier.Id);
                RequirePoint(errors, where + ".at", courier.At);
            }
        }

        return errors;
    }

    private static void RequireId(Dictionary<string, string[]> errors, string where, string? id)
    {
        if (string.IsNullOrWhiteSpace(id))
        {
            errors[where + ".id"] = ["An id, a non-empty string, is required."];
        }
    }

    private static void RequirePoint(Dictionary<string, string[]> errors, string where, IReadOnlyList<double>? point)
    {
        if (point is not { Count: 2 })
        {
            errors[where] = ["A point [x, y] in km is required."];
        }
    }
}

/// <summary>A parcel to collect at <see cref="Pickup"/> from <see cref="ReadyAt"/> and drop off by <see cref="DueBy"/> (minutes).</summary>
public sealed record DeliveryRequest
{
    /// <summary>The delivery's id, unique in its batch.</summary>
    public string? Id { get; init; }

    /// <summary>Where the parcel is collected, [x, y] in km.</summary>
    public IReadOnlyList<double>? Pickup { get; init; }

    /// <summary>Where the parcel goes, [x, y] in km.</summary>
    public IReadOnlyList<double>? Dropoff { get; init; }

    /// <summary>Size units (the optimiser's default: 1).</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public double? Size { get; init; }

    /// <summary>The minute from which the parcel can be collected (default: 0).</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public double? ReadyAt { get; init; }

    /// <summary>The minute by which it must be dropped off (default: no limit).</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public double? DueBy { get; init; }
}

/// <summary>A courier and where it is at minute 0, [x, y] in km.</summary>
public sealed record CourierPosition(string? Id, IReadOnlyList<double>? At);
