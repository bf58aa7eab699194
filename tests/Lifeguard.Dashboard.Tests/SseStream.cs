using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;

namespace Lifeguard.Dashboard.Tests;

/// <summary>One event of a Server-Sent Events stream, as a browser's EventSource would see it.</summary>
public sealed record SseEvent(string? Id, string Event, string Data)
{
    public long NumericId => long.Parse(Id!, CultureInfo.InvariantCulture);

    public JsonElement Json => JsonDocument.Parse(Data).RootElement.Clone();
}

/// <summary>
/// A client of <c>GET events</c> over a real connection: parses the stream (<c>id:</c>, <c>event:</c>, <c>data:</c>
/// lines, a blank line ending each event) and keeps every event read. Reads are bounded by a timeout; disposing it
/// closes the connection.
/// </summary>
public sealed class SseStream : IAsyncDisposable
{
    private readonly HttpResponseMessage _response;
    private readonly StreamReader _reader;
    private readonly List<SseEvent> _seen = [];

    private SseStream(HttpResponseMessage response, StreamReader reader)
    {
        _response = response;
        _reader = reader;
    }

    public HttpResponseMessage Response => _response;

    public IReadOnlyList<SseEvent> Seen => _seen;

    public static async Task<SseStream> OpenAsync(HttpClient client, string? lastEventId = null)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "events");
        if (lastEventId is not null)
        {
            request.Headers.Add("Last-Event-ID", lastEventId);
        }

        var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType?.MediaType);
        var reader = new StreamReader(await response.Content.ReadAsStreamAsync(), Encoding.UTF8);
        return new SseStream(response, reader);
    }

    /// <summary>The next event; null when the server ended the stream.</summary>
    public async Task<SseEvent?> NextAsync(TimeSpan? timeout = null)
    {
        using var cts = new CancellationTokenSource(timeout ?? TimeSpan.FromSeconds(30));
        string? id = null;
        string? name = null;
        var data = new StringBuilder();
        while (true)
        {
            string? line;
            try
            {
                line = await _reader.ReadLineAsync(cts.Token);
            }
            catch (OperationCanceledException e) when (cts.IsCancellationRequested)
            {
                throw new TimeoutException($"No event within the timeout; seen: {string.Join(", ", _seen.Select(e => e.Event + "#" + e.Id))}", e);
            }

            if (line is null)
            {
                return null;
            }

            if (line.Length == 0)
            {
                if (data.Length == 0 && name is null)
                {
                    continue; // the retry preamble, or a comment's end
                }

                var e = new SseEvent(id, name ?? "message", data.ToString());
                _seen.Add(e);
                return e;
            }

            if (line.StartsWith(':'))
            {
                continue;
            }

            var colon = line.IndexOf(':');
            var field = colon < 0 ? line : line[..colon];
            var value = colon < 0 ? "" : line[(colon + 1)..].TrimStart(' ');
            switch (field)
            {
                case "id": id = value; break;
                case "event": name = value; break;
                case "data": data.Append(value); break;
                default: break;
            }
        }
    }

    /// <summary>Reads until an event matches; fails after <paramref name="timeout"/> (default 30 s).</summary>
    public async Task<SseEvent> NextAsync(Func<SseEvent, bool> match, string what, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(30));
        while (true)
        {
            var left = deadline - DateTime.UtcNow;
            if (left <= TimeSpan.Zero)
            {
                throw new TimeoutException($"No event {what} within the timeout; seen: {string.Join(", ", _seen.Select(e => e.Event + "#" + e.Id))}");
            }

            var e = await NextAsync(left) ?? throw new InvalidOperationException($"The stream ended before an event {what}.");
            if (match(e))
            {
                return e;
            }
        }
    }

    public static bool IsLog(SseEvent e, string kind) => e.Event == "log" && e.Json.GetProperty("kind").GetString() == kind;

    public ValueTask DisposeAsync()
    {
        _reader.Dispose();
        _response.Dispose();
        return default;
    }
}
