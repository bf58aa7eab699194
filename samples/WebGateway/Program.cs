using System.Text.Json.Serialization.Metadata;
using Lifeguard.Samples;
using Lifeguard.Samples.WebGateway;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.AspNetCore.Http.Json;

// "Monocle", an API gateway in ASP.NET Core: clients post a batch of deliveries as JSON, and a pool of
// python3 processes running the data team's optimiser (samples/python/optimizer.py) stacks them onto couriers.
// The pool is Lifeguard's poolboy: a few processes kept ready, more for bursts, callers queued, dead ones replaced.
var builder = WebApplication.CreateBuilder(args);

// The pool's options come from appsettings.json, section Lifeguard:Pools:stacking. Relative module paths would mean the
// content root (the project folder under dotnet run); this one, "python", means the application's folder, where the
// build copies optimizer.py, so the gateway finds it however it is started.
// The optimiser is called through IOptimizer, generated at build time from optimizer.py's type hints.
builder.Services.AddLifeguard()
    .AddPythonPool(StackingEndpoints.PoolName, options =>
    {
        for (var i = 0; i < options.ModulePaths.Count; i++)
        {
            options.ModulePaths[i] = Path.Combine(AppContext.BaseDirectory, options.ModulePaths[i]);
        }
    })
    .AddPythonModule<IOptimizer, Optimizer>(StackingEndpoints.PoolName);
builder.Services.AddHealthChecks().AddLifeguardHealthChecks("ready");

// OpenTelemetry: the "Lifeguard" meter and ASP.NET Core's request metrics for Prometheus at GET /metrics; the
// "Lifeguard" and ASP.NET Core activity sources traced, and sent with OTLP only when OTEL_EXPORTER_OTLP_ENDPOINT is set.
builder.Services.AddGatewayTelemetry(builder.Configuration);

// Failures become problem details: a body that is not a batch 400, a batch the optimiser rejects 422, a full pool 503
// with Retry-After. ThrowOnBadRequest sends unreadable bodies there too, so they get the same kind of answer.
builder.Services.AddProblemDetails();
builder.Services.AddExceptionHandler<GatewayExceptionHandler>();
builder.Services.Configure<RouteHandlerOptions>(options => options.ThrowOnBadRequest = true);
builder.Services.Configure<JsonOptions>(options =>
{
    options.SerializerOptions.WriteIndented = builder.Environment.IsDevelopment();
    options.SerializerOptions.TypeInfoResolver = (options.SerializerOptions.TypeInfoResolver ?? new DefaultJsonTypeInfoResolver())
        .WithAddedModifier(CamelCaseRecords.Apply);
});

var app = builder.Build();
app.UseExceptionHandler();
app.UseStatusCodePages();

app.MapStacking();
app.MapHealthChecks("/health", new HealthCheckOptions { ResponseWriter = HealthReportWriter.WriteAsync });
app.MapGatewayMetrics();

// The pools, live, at /lifeguard/: read-only (no kill, resize or recycle), on the loopback address the gateway listens on.
app.MapLifeguardDashboard("/lifeguard");

app.Run();
