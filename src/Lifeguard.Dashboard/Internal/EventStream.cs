using System.Globalization;
using System.Text;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;

namespace Lifeguard.Dashboard;

/// <summary>
/// <c>GET events</c>: Server-Sent Events. <c>log</c> events carry one event-log entry, <c>snapshot</c> events a full
/// snapshot (one per sampler tick at most); every event has an id. A client that reconnects with
/// <c>Last-Event-ID</c> is first sent the log entries it missed (those still kept), then a fresh snapshot. Stateless
/// and thread-safe; each request's loop is its own.
/// </summary>
internal static class EventStream
{
    private static readonly byte[] Preamble = Encoding.UTF8.GetBytes("retry: 1000\n\n");
    private static readonly byte[] LogName = Encoding.UTF8.GetBytes("event: log\ndata: ");
    private static readonly byte[] SnapshotName = Encoding.UTF8.GetBytes("event: snapshot\ndata: ");
    private static readonly byte[] End = "\n\n"u8.ToArray();

    public static async Task ServeAsync(HttpContext context, DashboardHub hub)
    {
        var remote = RemoteOf(context);
        var client = hub.Register(remote, LastEventIdOf(context.Request));
        if (client is null)
        {
            DashboardLog.TooManyStreams(hub.Logger, remote, DashboardHub.MaxClients);
            context.Response.Headers.RetryAfter = "5";
            await Responses.WriteProblemAsync(
                context, StatusCodes.Status503ServiceUnavailable, "Service Unavailable", $"{DashboardHub.MaxClients} event streams are open.").ConfigureAwait(false);
            return;
        }

        using var ended = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted, hub.Stopping, client.Dropped);
        var token = ended.Token;
        try
        {
            var response = context.Response;
            response.StatusCode = StatusCodes.Status200OK;
            response.ContentType = "text/event-stream; charset=utf-8";
            response.Headers.CacheControl = "no-store";
            response.Headers["X-Accel-Buffering"] = "no";
            context.Features.Get<IHttpResponseBodyFeature>()?.DisableBuffering();
            var body = response.Body;
            await body.WriteAsync(Preamble, token).ConfigureAwait(false);
            await body.FlushAsync(token).ConfigureAwait(false);
            while (true)
            {
                await client.WaitAsync(token).ConfigureAwait(false);
                var batch = hub.Collect(client);
                foreach (var (entry, isSnapshot) in batch)
                {
                    await body.WriteAsync(IdLine(entry.Id), token).ConfigureAwait(false);
                    await body.WriteAsync(isSnapshot ? SnapshotName : LogName, token).ConfigureAwait(false);
                    await body.WriteAsync(entry.Json, token).ConfigureAwait(false);
                    await body.WriteAsync(End, token).ConfigureAwait(false);
                }

                if (batch.Count > 0)
                {
                    await body.FlushAsync(token).ConfigureAwait(false);
                }
            }
        }
        catch (OperationCanceledException) when (token.IsCancellationRequested)
        {
            // The client left, the application is stopping, or the stream was dropped: the client reconnects.
        }
        catch (IOException)
        {
            // The connection broke mid-write.
        }
        finally
        {
            hub.Unregister(client);
        }
    }

    internal static string RemoteOf(HttpContext context)
    {
        var address = context.Connection.RemoteIpAddress;
        return address is null
            ? "(unknown)"
            : string.Create(CultureInfo.InvariantCulture, $"{address}:{context.Connection.RemotePort}");
    }

    private static byte[] IdLine(long id) => Encoding.UTF8.GetBytes(string.Create(CultureInfo.InvariantCulture, $"id: {id}\n"));

    /// <summary>
    /// The <c>Last-Event-ID</c> header an EventSource sends when it reconnects, or the <c>lastEventId</c> query value
    /// the page gives a new EventSource after a stream failed for good (a new EventSource does not send the header).
    /// </summary>
    private static long LastEventIdOf(HttpRequest request)
    {
        var value = request.Headers["Last-Event-ID"].ToString();
        if (value.Length == 0)
        {
            value = request.Query["lastEventId"].ToString();
        }

        return long.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var id) ? id : 0;
    }
}
