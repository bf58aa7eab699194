// The prelude of a csharp code block marked <!-- snippet: fragment --> in README.md or docs/*.md: the namespaces a
// fragment may use without a using directive, and stand-ins for the names it may use without declaring them. A
// fragment is compiled with this file, the samples' SquareWorker, the generated bindings of the samples' Python
// modules (IOptimizer and Optimizer, StackingPlan, DeliveryBatch; ITextStats, TextStats, Stats: in this test
// assembly), and the SDK's implicit usings of a console app; it is never run, so the stand-ins have no values.
global using System.Diagnostics.Metrics;
global using System.Text.Json;
global using Lifeguard;
global using Lifeguard.Dashboard;
global using Lifeguard.Hosting;
global using Lifeguard.Python;
global using Lifeguard.RabbitMQ;
global using Lifeguard.Samples;
global using Lifeguard.Samples.Squares;
global using Microsoft.AspNetCore.Builder;
global using Microsoft.AspNetCore.Http;
global using Microsoft.AspNetCore.Mvc;
global using Microsoft.Extensions.Configuration;
global using Microsoft.Extensions.DependencyInjection;
global using Microsoft.Extensions.Hosting;
global using Microsoft.Extensions.Diagnostics.Metrics;
global using Microsoft.Extensions.Logging;
global using OpenTelemetry.Metrics;
global using OpenTelemetry.Resources;
global using OpenTelemetry.Trace;
global using static Lifeguard.Docs.Prelude;

namespace Lifeguard.Docs
{
    /// <summary>Names the docs use as an application's own: its host, its services, its data.</summary>
    public static class Prelude
    {
        public static WebApplicationBuilder builder => throw new NotSupportedException();
        public static WebApplication app => throw new NotSupportedException();
        public static IServiceProvider services => throw new NotSupportedException();

        /// <summary>One batch for the optimiser: a line of samples/python/deliveries.jsonl.</summary>
        public static JsonElement deliveries => throw new NotSupportedException();

        /// <summary>Histogram boundaries in seconds (the web gateway's GatewayTelemetry).</summary>
        public static double[] secondsBuckets => throw new NotSupportedException();

        /// <summary>Whether an OTLP endpoint is configured.</summary>
        public static bool endpointConfigured => throw new NotSupportedException();

        /// <summary>Whether a request is a probe (/metrics, /health), left out of traces.</summary>
        public static bool IsProbe(PathString path) => throw new NotSupportedException();

        /// <summary>A model's input.</summary>
        public static double[] input => throw new NotSupportedException();
    }
}
