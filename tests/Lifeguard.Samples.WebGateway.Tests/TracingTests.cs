using System.Net;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using OpenTelemetry.Exporter;

namespace Lifeguard.Samples.WebGateway.Tests;

public sealed class TracingTests
{
    [Fact]
    public async Task With_an_otlp_endpoint_requests_are_traced_there_and_scrapes_and_probes_are_not()
    {
        await using var receiver = await OtlpReceiver.StartAsync();
        var gateway = new GatewayFactory(settings: new Dictionary<string, string?>
        {
            [GatewayTelemetry.OtlpEndpointKey] = receiver.Endpoint.ToString(),
            ["OTEL_EXPORTER_OTLP_PROTOCOL"] = "http/protobuf",
            ["OTEL_BSP_SCHEDULE_DELAY"] = "100",
            [GatewayFactory.Pool + "Size"] = "1",
        });
        try
        {
            using var client = gateway.CreateClient();
            using (var metrics = await client.GetAsync(new Uri("/metrics", UriKind.Relative)))
            using (var health = await client.GetAsync(new Uri("/health", UriKind.Relative)))
            using (var stacked = await Batches.PostAsync(client, Batches.Small()))
            {
                Assert.Equal(HttpStatusCode.OK, metrics.StatusCode);
                Assert.Equal(HttpStatusCode.OK, health.StatusCode);
                Assert.Equal(HttpStatusCode.OK, stacked.StatusCode);
            }

            await receiver.WaitForAsync("POST /stack");
            await receiver.WaitForAsync("optimizer.optimize"); // the pool's call span, under the request
        }
        finally
        {
            await gateway.DisposeAsync(); // flushes what is left
        }

        var traces = receiver.Traces;
        Assert.Contains("Microsoft.AspNetCore", traces, StringComparison.Ordinal);
        Assert.Contains(GatewayTelemetry.ServiceName, traces, StringComparison.Ordinal);
        Assert.Contains("lifeguard.checkout", traces, StringComparison.Ordinal);
        Assert.Contains("optimizer.optimize", traces, StringComparison.Ordinal);
        Assert.DoesNotContain("/metrics", traces, StringComparison.Ordinal);
        Assert.DoesNotContain("/health", traces, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task The_otlp_exporter_is_added_only_when_an_endpoint_is_configured(bool configured)
    {
        // Port 9 (discard): were the exporter added, nothing would answer it; the check is of what is registered.
        var settings = new Dictionary<string, string?> { [GatewayFactory.Pool + "Size"] = "1" };
        if (configured)
        {
            settings[GatewayTelemetry.OtlpEndpointKey] = "http://127.0.0.1:9";
        }

        List<ServiceDescriptor> services = [];
        await using var factory = new GatewayFactory(settings: settings);
        await using var inspected = factory.WithWebHostBuilder(b => b.ConfigureTestServices(s => services = [.. s]));
        using var client = inspected.CreateClient();

        Assert.Equal(configured, services.Exists(FromOtlpExporter));
        using var health = await client.GetAsync(new Uri("/health", UriKind.Relative));
        Assert.Equal(HttpStatusCode.OK, health.StatusCode);
    }

    [Theory]
    [InlineData("localhost:4317")]
    [InlineData("grpc://s3cret-token@collector:4317")]
    [InlineData("/v1/traces")]
    public void An_endpoint_that_is_not_an_http_uri_fails_the_start_naming_the_setting_but_not_its_value(string endpoint)
    {
        using var factory = new GatewayFactory(settings: new Dictionary<string, string?> { [GatewayTelemetry.OtlpEndpointKey] = endpoint });

        var error = Assert.Throws<InvalidOperationException>(() => factory.CreateClient());

        Assert.Equal("OTEL_EXPORTER_OTLP_ENDPOINT must be an absolute http or https URI, such as http://127.0.0.1:4317.", error.Message);
        Assert.DoesNotContain(endpoint, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void The_traces_endpoint_wins_over_the_general_one_and_blank_means_none()
    {
        Assert.Null(GatewayTelemetry.OtlpEndpoint(Configuration([])));
        Assert.Null(GatewayTelemetry.OtlpEndpoint(Configuration(new() { [GatewayTelemetry.OtlpEndpointKey] = " " })));
        Assert.Equal(
            new Uri("https://collector:4318/v1/traces"),
            GatewayTelemetry.OtlpEndpoint(Configuration(new()
            {
                [GatewayTelemetry.OtlpEndpointKey] = "http://127.0.0.1:4317",
                [GatewayTelemetry.OtlpTracesEndpointKey] = "https://collector:4318/v1/traces",
            })));
        Assert.Equal(
            new Uri("http://127.0.0.1:4317"),
            GatewayTelemetry.OtlpEndpoint(Configuration(new() { [GatewayTelemetry.OtlpEndpointKey] = "http://127.0.0.1:4317" })));
        var error = Assert.Throws<InvalidOperationException>(
            () => GatewayTelemetry.OtlpEndpoint(Configuration(new() { [GatewayTelemetry.OtlpTracesEndpointKey] = "collector" })));
        Assert.StartsWith(GatewayTelemetry.OtlpTracesEndpointKey + " must be", error.Message, StringComparison.Ordinal);
    }

    private static IConfiguration Configuration(Dictionary<string, string?> settings)
        => new ConfigurationBuilder().AddInMemoryCollection(settings).Build();

    /// <summary>Whether the service, its implementation or its factory is the OTLP exporter's.</summary>
    private static bool FromOtlpExporter(ServiceDescriptor service)
    {
        var otlp = typeof(OtlpExporterOptions).Assembly;
        bool FromOtlp(Type? type) => type is not null && (type.Assembly == otlp || type.GenericTypeArguments.Any(FromOtlp));
        return FromOtlp(service.ServiceType)
            || FromOtlp(service.ImplementationType)
            || FromOtlp(service.ImplementationFactory?.Method.DeclaringType);
    }
}
