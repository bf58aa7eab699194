using Microsoft.Extensions.Diagnostics.Metrics;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;

namespace Lifeguard.Samples.WebGateway;

/// <summary>
/// The gateway's OpenTelemetry: the <c>Lifeguard</c> meter and ASP.NET Core's request metrics, served in the
/// Prometheus text format at <c>GET /metrics</c>; the <c>Lifeguard</c> and ASP.NET Core activity sources traced,
/// and sent with OTLP only when an endpoint is configured. Stateless.
/// </summary>
public static class GatewayTelemetry
{
    /// <summary>The meter and activity source every Lifeguard pool reports to.</summary>
    public const string LifeguardSource = "Lifeguard";

    /// <summary>The service name on the exported telemetry, unless <c>OTEL_SERVICE_NAME</c> says otherwise.</summary>
    public const string ServiceName = "lifeguard-webgateway";

    /// <summary>The OpenTelemetry setting for where OTLP sends every signal, e.g. <c>http://127.0.0.1:4317</c>.</summary>
    public const string OtlpEndpointKey = "OTEL_EXPORTER_OTLP_ENDPOINT";

    /// <summary>The OpenTelemetry setting for where OTLP sends traces; wins over <see cref="OtlpEndpointKey"/>.</summary>
    public const string OtlpTracesEndpointKey = "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT";

    /// <summary>
    /// The buckets, in seconds, of the pool's checkout wait and lease duration histograms: from a checkout served
    /// from an idle worker to a plan near the call timeout. The default buckets are meant for milliseconds.
    /// </summary>
    private static readonly double[] SecondsBuckets = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

    /// <summary>
    /// Adds metrics (exported for Prometheus at <c>/metrics</c>, see <see cref="MapGatewayMetrics"/>) and traces
    /// (exported with OTLP when <paramref name="configuration"/> has an endpoint, see <see cref="OtlpEndpoint"/>).
    /// </summary>
    /// <exception cref="InvalidOperationException">The endpoint configured is not an absolute http or https URI.</exception>
    public static IServiceCollection AddGatewayTelemetry(this IServiceCollection services, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configuration);
        var exportTraces = OtlpEndpoint(configuration) is not null;

        // Which meters OpenTelemetry reads is left to the host's metrics rules, not to MeterProviderBuilder.AddMeter:
        // AddMeter listens to every meter of that name in the process, a rule can ask for this host's meters only
        // (MeterScope.Local: those made by its IMeterFactory, as the pools' and ASP.NET Core's are). So two hosts in
        // one process, each with a pool named "stacking", do not add up each other's workers.
        services.AddMetrics(metrics => metrics
            .EnableMetrics(LifeguardSource, instrumentName: null, listenerName: null, MeterScope.Local)
            // http.server.request.duration and http.server.active_requests, by route and status code.
            .EnableMetrics("Microsoft.AspNetCore.Hosting", instrumentName: null, listenerName: null, MeterScope.Local));
        services.AddOpenTelemetry()
            // The detector after AddService, so that OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES still win.
            .ConfigureResource(resource => resource.AddService(ServiceName).AddEnvironmentVariableDetector())
            .WithMetrics(metrics => metrics
                .AddView("lifeguard.pool.checkout.wait", new ExplicitBucketHistogramConfiguration { Boundaries = SecondsBuckets })
                .AddView("lifeguard.pool.lease.duration", new ExplicitBucketHistogramConfiguration { Boundaries = SecondsBuckets })
                // A scrape collects anew, so it shows the pool as it is now, not as it was up to 300 ms ago.
                .AddPrometheusExporter(options => options.ScrapeResponseCacheDurationMilliseconds = 0))
            .WithTracing(tracing =>
            {
                tracing
                    .AddSource(LifeguardSource)
                    // Scrapes and health probes come every few seconds and would drown the requests worth tracing.
                    .AddAspNetCoreInstrumentation(options => options.Filter = context => !IsProbe(context.Request.Path));
                if (exportTraces)
                {
                    // Reads the endpoint, protocol and headers from the same settings (OTEL_EXPORTER_OTLP_*).
                    tracing.AddOtlpExporter();
                }
            });
        return services;
    }

    /// <summary>Maps the Prometheus scraping endpoint, <c>GET /metrics</c>.</summary>
    public static IEndpointRouteBuilder MapGatewayMetrics(this IEndpointRouteBuilder endpoints)
    {
        endpoints.MapPrometheusScrapingEndpoint("/metrics");
        return endpoints;
    }

    /// <summary>
    /// Where traces go: <see cref="OtlpTracesEndpointKey"/>, else <see cref="OtlpEndpointKey"/>, read from
    /// <paramref name="configuration"/> (environment variables, <c>appsettings.json</c>, the command line); <see langword="null"/>
    /// when neither is set, and then no exporter is added.
    /// </summary>
    /// <exception cref="InvalidOperationException">The value is not an absolute http or https URI.</exception>
    public static Uri? OtlpEndpoint(IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        foreach (var key in (ReadOnlySpan<string>)[OtlpTracesEndpointKey, OtlpEndpointKey])
        {
            var value = configuration[key];
            if (string.IsNullOrWhiteSpace(value))
            {
                continue;
            }

            // The value is not repeated: an endpoint can carry credentials.
            return Uri.TryCreate(value, UriKind.Absolute, out var uri) && (uri.Scheme == Uri.UriSchemeHttp || uri.Scheme == Uri.UriSchemeHttps)
                ? uri
                : throw new InvalidOperationException($"{key} must be an absolute http or https URI, such as http://127.0.0.1:4317.");
        }

        return null;
    }

    private static bool IsProbe(PathString path) => path.StartsWithSegments("/metrics", StringComparison.OrdinalIgnoreCase) || path.StartsWithSegments("/health", StringComparison.OrdinalIgnoreCase);
}
