using System.Diagnostics;

namespace Lifeguard;

/// <summary>
/// The <c>Lifeguard</c> <see cref="ActivitySource"/> of the core and the names of its spans and attributes
/// (docs/hosting.md, "Tracing"). <see cref="ActivitySource.StartActivity(string, ActivityKind)"/> returns
/// <see langword="null"/> while nothing listens to the source, so callers test <see cref="ActivitySource.HasListeners"/>
/// first and keep the path without listeners free of allocations and clock reads. Thread-safe.
/// </summary>
internal static class LifeguardTracing
{
    public const string SourceName = "Lifeguard";
    public const string CheckoutSpan = "lifeguard.checkout";
    public const string PoolNameTag = LifeguardMetrics.PoolNameTag;
    public const string CheckoutWaitTag = "lifeguard.checkout.wait";
    public const string CheckoutFullTag = "lifeguard.checkout.full";
    public const string ErrorTypeTag = "error.type";

    public static ActivitySource Source { get; } = new(SourceName, typeof(LifeguardTracing).Assembly.GetName().Version?.ToString());

    /// <summary>Marks a span failed: <c>error.type</c> is the exception's full type name, the status its message.</summary>
    public static void SetError(Activity activity, Exception error)
    {
        activity.SetTag(ErrorTypeTag, error.GetType().FullName);
        activity.SetStatus(ActivityStatusCode.Error, error.Message);
    }
}
