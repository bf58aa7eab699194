using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Lifeguard.Dashboard;

/// <summary>
/// The dashboard's routes, relative to its prefix. Every handler is a plain <see cref="RequestDelegate"/> (no
/// reflection, trimming-safe) that first sets the security headers. Stateless and thread-safe.
/// </summary>
internal static class DashboardEndpoints
{
    public static void Map(RouteGroupBuilder group, DashboardHub hub)
    {
        // The hub travels as metadata too, so that tests (and nothing else) can reach the instance behind a mapping.
        group.WithMetadata(hub);

        Get(group, "/", "page", PageAsync);
        Get(group, "/assets/{**path}", "assets", AssetAsync);
        Get(group, "/api/snapshot", "snapshot", context => SnapshotAsync(context, hub));
        Get(group, "/api/events", "event log", context => Responses.WriteJsonAsync(context, StatusCodes.Status200OK, hub.EventLogJson()));
        Get(group, "/events", "event stream", context => EventStream.ServeAsync(context, hub));
        if (hub.Settings.AllowActions)
        {
            ActionEndpoints.Map(group, hub);
        }
    }

    internal static void Get(RouteGroupBuilder group, string pattern, string name, RequestDelegate handler)
        => group.MapMethods(pattern, [HttpMethods.Get, HttpMethods.Head], WithHeaders(handler)).WithDisplayName("Lifeguard dashboard: " + name);

    internal static RequestDelegate WithHeaders(RequestDelegate handler)
        => context =>
        {
            Responses.ApplySecurityHeaders(context.Response);
            return handler(context);
        };

    private static Task PageAsync(HttpContext context)
    {
        // The page refers to its files and API relatively, so that it works under any prefix: it must be served from
        // a path that ends in '/' ("/lifeguard/", not "/lifeguard").
        var request = context.Request;
        var path = request.PathBase.Add(request.Path);
        if (!path.HasValue || !path.Value!.EndsWith('/'))
        {
            context.Response.StatusCode = StatusCodes.Status301MovedPermanently;
            context.Response.Headers.Location = path.Add("/").ToUriComponent() + request.QueryString.ToUriComponent();
            return Task.CompletedTask;
        }

        StaticAssets.Shared.TryGet("index.html", out var page);
        return StaticAssets.ServeAsync(context, page);
    }

    private static Task AssetAsync(HttpContext context)
    {
        var path = context.Request.RouteValues["path"] as string;
        if (path is null || path == "index.html" || !StaticAssets.Shared.TryGet(path, out var asset))
        {
            return Responses.WriteProblemAsync(context, StatusCodes.Status404NotFound, "Not Found", "The dashboard has no such file.");
        }

        return StaticAssets.ServeAsync(context, asset);
    }

    private static Task SnapshotAsync(HttpContext context, DashboardHub hub)
    {
        var statuses = SnapshotWriter.ReadStatuses(hub.Registry);
        var json = SnapshotWriter.Write(hub.Settings.Time.GetUtcNow(), hub.Settings.AllowActions, statuses, rates: null);
        return Responses.WriteJsonAsync(context, StatusCodes.Status200OK, json);
    }
}
