using System.Collections.Concurrent;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace Lifeguard.Samples.WebGateway.Tests;

/// <summary>
/// An OTLP/HTTP collector on 127.0.0.1 at a free port, keeping the body of each <c>POST /v1/traces</c> (protobuf,
/// where strings such as span and scope names are their UTF-8 bytes). Kestrel refuses bodies over 4 MiB. Thread-safe.
/// </summary>
public sealed class OtlpReceiver : IAsyncDisposable
{
    private const int MaxBody = 4 << 20;

    private readonly WebApplication _app;
    private readonly ConcurrentQueue<byte[]> _traces = new();

    private OtlpReceiver(WebApplication app) => _app = app;

    public Uri Endpoint => new(_app.Urls.Single());

    /// <summary>Every traces body received so far, as one string (Latin-1, so each byte is one character).</summary>
    public string Traces => string.Concat(_traces.Select(System.Text.Encoding.Latin1.GetString));

    public static async Task<OtlpReceiver> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.WebHost.ConfigureKestrel(kestrel => kestrel.Limits.MaxRequestBodySize = MaxBody);
        builder.Logging.ClearProviders();
        var app = builder.Build();
        var receiver = new OtlpReceiver(app);
        app.MapPost("/v1/traces", async (HttpRequest request) =>
        {
            using var body = new MemoryStream();
            await request.Body.CopyToAsync(body);
            receiver._traces.Enqueue(body.ToArray());
        });
        await app.StartAsync();
        return receiver;
    }

    /// <summary>Waits, up to 30 s, until the traces received contain <paramref name="text"/>.</summary>
    public async Task WaitForAsync(string text)
    {
        var deadline = Environment.TickCount64 + 30_000;
        while (!Traces.Contains(text, StringComparison.Ordinal))
        {
            Assert.True(Environment.TickCount64 < deadline, $"Timed out after 30 s waiting for a span with \"{text}\"; received {_traces.Count} bodies.");
            await Task.Delay(20);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
