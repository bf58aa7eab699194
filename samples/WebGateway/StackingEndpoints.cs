using Microsoft.AspNetCore.Http.HttpResults;

namespace Lifeguard.Samples.WebGateway;

/// <summary>The gateway's one business endpoint: a batch of deliveries in, the optimiser's stacking plan out. Stateless.</summary>
public static class StackingEndpoints
{
    /// <summary>The Python pool's name: its service key and its section under <c>Lifeguard:Pools</c>.</summary>
    public const string PoolName = "stacking";

    /// <summary>Maps <c>POST /stack</c>.</summary>
    public static IEndpointRouteBuilder MapStacking(this IEndpointRouteBuilder endpoints)
    {
        endpoints.MapPost("/stack", StackAsync);
        return endpoints;
    }

    /// <summary>
    /// Checks the batch's shape (400 with the offending paths), then calls <c>optimizer.optimize</c> in a pooled
    /// Python worker, through the bindings the build generated from its type hints. Its failures become problems in
    /// <see cref="GatewayExceptionHandler"/>: 422 for a batch the optimiser rejects, 503 with <c>Retry-After</c> when
    /// every worker is busy. A client that disconnects interrupts the call.
    /// </summary>
    public static async Task<Results<Ok<StackingPlan>, ValidationProblem>> StackAsync(
        DeliveryBatch batch, IOptimizer optimizer, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(batch);
        ArgumentNullException.ThrowIfNull(optimizer);
        var errors = BatchValidation.Validate(batch);
        if (errors.Count > 0)
        {
            return TypedResults.ValidationProblem(errors, title: "The request is not a delivery batch");
        }

        return TypedResults.Ok(await optimizer.OptimizeAsync(batch, cancellationToken: cancellationToken));
    }
}
