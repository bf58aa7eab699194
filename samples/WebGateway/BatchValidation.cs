namespace Lifeguard.Samples.WebGateway;

/// <summary>
/// What the gateway checks of a posted batch before the optimiser sees it: what it needs to pass the batch on. Whether
/// its values make a plannable batch (sizes within capacity, due after ready, unique ids) is the optimiser's to say.
/// Stateless.
/// </summary>
public static class BatchValidation
{
    /// <summary>The most deliveries one request may carry: the optimiser is quadratic in them.</summary>
    public const int MaxDeliveries = 500;

    /// <summary>The most couriers one request may offer.</summary>
    public const int MaxCouriers = 100;

    /// <summary>
    /// The errors of a batch, keyed by the JSON path of the offending value, as in a validation problem; empty when it is
    /// well formed. The body is read leniently, so that every fault is reported at once: a member it lacks is null
    /// here, whatever the record's annotations say.
    /// </summary>
    public static Dictionary<string, string[]> Validate(DeliveryBatch batch)
    {
        ArgumentNullException.ThrowIfNull(batch);
        var errors = new Dictionary<string, string[]>(StringComparer.Ordinal);
        if (batch.Deliveries is not { Count: > 0 and <= MaxDeliveries } deliveries)
        {
            errors["deliveries"] = [$"Between 1 and {MaxDeliveries} deliveries are required."];
        }
        else
        {
            for (var i = 0; i < deliveries.Count; i++)
            {
                var where = $"deliveries[{i}]";
                if (deliveries[i] is not { } delivery)
                {
                    errors[where] = ["A delivery is an object."];
                    continue;
                }

                RequireId(errors, where, delivery.Id);
                RequirePoint(errors, where + ".pickup", delivery.Pickup);
                RequirePoint(errors, where + ".dropoff", delivery.Dropoff);
            }
        }

        if (batch.Couriers is not { Count: > 0 and <= MaxCouriers } couriers)
        {
            errors["couriers"] = [$"Between 1 and {MaxCouriers} couriers are required."];
        }
        else
        {
            for (var i = 0; i < couriers.Count; i++)
            {
                var where = $"couriers[{i}]";
                if (couriers[i] is not { } courier)
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
