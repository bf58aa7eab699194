using System.Globalization;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Lifeguard.Dashboard;

/// <summary>
/// The operator actions, mapped only when <see cref="DashboardOptions.AllowActions"/> is on: kill a worker, resize a
/// pool, recycle it. Each needs the action token in <c>X-Lifeguard-Token</c> (403 otherwise; a custom header also
/// keeps other origins' pages from sending the request without a CORS preflight), acts with source
/// <c>"dashboard"</c>, and is logged with what was done and the caller's address. Stateless and thread-safe.
/// </summary>
internal static class ActionEndpoints
{
    public const string TokenHeader = "X-Lifeguard-Token";
    public const string Source = "dashboard";
    public const int MaxBodyBytes = 4096;

    public static void Map(RouteGroupBuilder group, DashboardHub hub)
    {
        Post(group, "/api/pools/{name}/workers/{id}/kill", "kill", hub, KillAsync);
        Post(group, "/api/pools/{name}/resize", "resize", hub, ResizeAsync);
        Post(group, "/api/pools/{name}/recycle", "recycle", hub, RecycleAsync);
    }

    private static void Post(RouteGroupBuilder group, string pattern, string action, DashboardHub hub, Func<HttpContext, DashboardHub, IPool, Task> handler)
        => group.MapPost(pattern, DashboardEndpoints.WithHeaders(context => GuardAsync(context, action, hub, handler)))
            .WithDisplayName("Lifeguard dashboard: " + action);

    private static async Task GuardAsync(HttpContext context, string action, DashboardHub hub, Func<HttpContext, DashboardHub, IPool, Task> handler)
    {
        var remote = EventStream.RemoteOf(context);
        var token = context.Request.Headers[TokenHeader];
        if (token.Count != 1 || !hub.Settings.IsActionToken(token[0]))
        {
            DashboardLog.ActionRefused(hub.Logger, action, remote, token.Count == 0 ? "no token" : "wrong token");
            await Responses.WriteProblemAsync(
                context, StatusCodes.Status403Forbidden, "Forbidden", $"Dashboard actions need the action token in the {TokenHeader} header.").ConfigureAwait(false);
            return;
        }

        var name = context.Request.RouteValues["name"] as string ?? "";
        if (!hub.Registry.TryGet(name, out var pool))
        {
            await Responses.WriteProblemAsync(context, StatusCodes.Status404NotFound, "Not Found", $"No pool named '{name}' is registered.").ConfigureAwait(false);
            return;
        }

        await handler(context, hub, pool).ConfigureAwait(false);
    }

    private static async Task KillAsync(HttpContext context, DashboardHub hub, IPool pool)
    {
        var idText = context.Request.RouteValues["id"] as string;
        if (!int.TryParse(idText, NumberStyles.None, CultureInfo.InvariantCulture, out var id))
        {
            await Responses.WriteProblemAsync(context, StatusCodes.Status404NotFound, "Not Found", $"Pool '{pool.Name}' has no worker '{idText}'.").ConfigureAwait(false);
            return;
        }

        int? pid = pool.GetStatus().Workers.FirstOrDefault(w => w.Id == id)?.ProcessId;
        var what = pid is { } p ? $"kill worker {id} (pid {p})" : $"kill worker {id}";
        WorkerKillResult result;
        try
        {
            result = await pool.KillWorkerAsync(id, Source, context.RequestAborted).ConfigureAwait(false);
        }
        catch (Exception e) when (e is NotSupportedException or InvalidOperationException or PoolStoppedException)
        {
            Audit(context, hub, pool, what, "refused: " + e.Message);
            await Responses.WriteProblemAsync(context, StatusCodes.Status409Conflict, "Conflict", $"Worker {id} of pool '{pool.Name}' cannot be killed: {e.Message}").ConfigureAwait(false);
            return;
        }

        Audit(context, hub, pool, what, result.ToString());
        switch (result)
        {
            case WorkerKillResult.Killed:
                await Responses.WriteJsonAsync(context, StatusCodes.Status200OK, json =>
                {
                    json.WriteStartObject();
                    json.WriteString("pool", pool.Name);
                    json.WriteNumber("workerId", id);
                    if (pid is { } killedPid)
                    {
                        json.WriteNumber("pid", killedPid);
                    }
                    else
                    {
                        json.WriteNull("pid");
                    }

                    json.WriteString("result", "Killed");
                    json.WriteEndObject();
                }).ConfigureAwait(false);
                break;
            case WorkerKillResult.NotFound:
                await Responses.WriteProblemAsync(
                    context, StatusCodes.Status404NotFound, "Not Found", $"Pool '{pool.Name}' has no live worker {id} (it has left, or is still starting).").ConfigureAwait(false);
                break;
            default:
                await Responses.WriteProblemAsync(
                    context, StatusCodes.Status409Conflict, "Conflict", $"Pool '{pool.Name}' is stopping; it stops every worker itself.").ConfigureAwait(false);
                break;
        }
    }

    private static async Task ResizeAsync(HttpContext context, DashboardHub hub, IPool pool)
    {
        var (size, maxOverflow, error) = await ReadResizeAsync(context).ConfigureAwait(false);
        if (error is not null)
        {
            await Responses.WriteProblemAsync(context, StatusCodes.Status400BadRequest, "Bad Request", error).ConfigureAwait(false);
            return;
        }

        var before = pool.GetStatus();
        var what = string.Create(
            CultureInfo.InvariantCulture, $"resize to Size {size}, MaxOverflow {maxOverflow} (was {before.Size}, {before.MaxOverflow})");
        try
        {
            pool.Resize(size, maxOverflow, Source);
        }
        catch (ArgumentOutOfRangeException e)
        {
            Audit(context, hub, pool, what, "refused: " + e.Message);
            await Responses.WriteProblemAsync(context, StatusCodes.Status400BadRequest, "Bad Request", e.Message).ConfigureAwait(false);
            return;
        }
        catch (NotSupportedException e)
        {
            Audit(context, hub, pool, what, "refused: " + e.Message);
            await Responses.WriteProblemAsync(context, StatusCodes.Status409Conflict, "Conflict", e.Message).ConfigureAwait(false);
            return;
        }
        catch (PoolStoppedException e)
        {
            Audit(context, hub, pool, what, "refused: the pool is stopping");
            await Responses.WriteProblemAsync(context, StatusCodes.Status409Conflict, "Conflict", e.Message).ConfigureAwait(false);
            return;
        }

        Audit(context, hub, pool, what, "done");
        await Responses.WriteJsonAsync(context, StatusCodes.Status200OK, json =>
        {
            json.WriteStartObject();
            json.WriteString("pool", pool.Name);
            json.WriteNumber("size", size);
            json.WriteNumber("maxOverflow", maxOverflow);
            json.WriteEndObject();
        }).ConfigureAwait(false);
    }

    private static async Task RecycleAsync(HttpContext context, DashboardHub hub, IPool pool)
    {
        int workers = pool.GetStatus().Workers.Count;
        try
        {
            pool.RecycleAll(Source);
        }
        catch (PoolStoppedException e)
        {
            Audit(context, hub, pool, "recycle", "refused: the pool is stopping");
            await Responses.WriteProblemAsync(context, StatusCodes.Status409Conflict, "Conflict", e.Message).ConfigureAwait(false);
            return;
        }
        catch (NotSupportedException e)
        {
            Audit(context, hub, pool, "recycle", "refused: " + e.Message);
            await Responses.WriteProblemAsync(context, StatusCodes.Status409Conflict, "Conflict", e.Message).ConfigureAwait(false);
            return;
        }

        Audit(context, hub, pool, "recycle", string.Create(CultureInfo.InvariantCulture, $"{workers} workers to retire, each at its next checkin"));
        await Responses.WriteJsonAsync(context, StatusCodes.Status202Accepted, json =>
        {
            json.WriteStartObject();
            json.WriteString("pool", pool.Name);
            json.WriteNumber("workers", workers);
            json.WriteEndObject();
        }).ConfigureAwait(false);
    }

    /// <summary>Reads <c>{"size": n, "maxOverflow": m}</c>, at most <see cref="MaxBodyBytes"/> of it; an error message instead when it is not that.</summary>
    private static async Task<(int Size, int MaxOverflow, string? Error)> ReadResizeAsync(HttpContext context)
    {
        if (context.Request.ContentLength > MaxBodyBytes)
        {
            return (0, 0, $"The body is larger than {MaxBodyBytes} bytes.");
        }

        var buffer = new byte[MaxBodyBytes + 1];
        int length = 0;
        while (length < buffer.Length)
        {
            int read = await context.Request.Body.ReadAsync(buffer.AsMemory(length), context.RequestAborted).ConfigureAwait(false);
            if (read == 0)
            {
                break;
            }

            length += read;
        }

        if (length > MaxBodyBytes)
        {
            return (0, 0, $"The body is larger than {MaxBodyBytes} bytes.");
        }

        const string Expected = "The body must be a JSON object {\"size\": n, \"maxOverflow\": m} of whole numbers, at least 0.";
        try
        {
            using var document = JsonDocument.Parse(buffer.AsMemory(0, length));
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object
                || !root.TryGetProperty("size", out var sizeJson) || sizeJson.ValueKind != JsonValueKind.Number || !sizeJson.TryGetInt32(out var size)
                || !root.TryGetProperty("maxOverflow", out var overflowJson) || overflowJson.ValueKind != JsonValueKind.Number
                || !overflowJson.TryGetInt32(out var maxOverflow))
            {
                return (0, 0, Expected);
            }

            if (size < 0 || maxOverflow < 0)
            {
                return (0, 0, string.Create(CultureInfo.InvariantCulture, $"Size and MaxOverflow must be at least 0 (were {size} and {maxOverflow})."));
            }

            return (size, maxOverflow, null);
        }
        catch (JsonException)
        {
            return (0, 0, Expected);
        }
    }

    private static void Audit(HttpContext context, DashboardHub hub, IPool pool, string what, string outcome)
        => DashboardLog.Action(hub.Logger, what, pool.Name, EventStream.RemoteOf(context), context.User.Identity?.Name ?? "anonymous", outcome);
}
