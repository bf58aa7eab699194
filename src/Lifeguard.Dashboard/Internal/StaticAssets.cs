using System.Collections.Frozen;
using System.Security.Cryptography;
using Microsoft.AspNetCore.Http;

namespace Lifeguard.Dashboard;

/// <summary>
/// The page's files, embedded in the assembly (<c>assets/</c>, logical names <c>dashboard/…</c>), read once and served
/// from memory with a strong ETag and revalidation on each use, so an upgraded dashboard is never served stale.
/// Immutable after construction; thread-safe.
/// </summary>
internal sealed class StaticAssets
{
    private const string ResourcePrefix = "dashboard/";

    private static readonly Lazy<StaticAssets> Instance = new(() => new StaticAssets());

    private readonly FrozenDictionary<string, Asset> _assets;

    private StaticAssets()
    {
        var assembly = typeof(StaticAssets).Assembly;
        var assets = new Dictionary<string, Asset>(StringComparer.Ordinal);
        foreach (var name in assembly.GetManifestResourceNames())
        {
            if (!name.StartsWith(ResourcePrefix, StringComparison.Ordinal))
            {
                continue;
            }

            using var stream = assembly.GetManifestResourceStream(name)!;
            using var copy = new MemoryStream();
            stream.CopyTo(copy);
            var bytes = copy.ToArray();
            var hash = SHA256.HashData(bytes);
            var etag = "\"" + Convert.ToHexStringLower(hash.AsSpan(0, 16)) + "\"";
            assets[name[ResourcePrefix.Length..]] = new Asset(bytes, ContentTypeOf(name), etag);
        }

        _assets = assets.ToFrozenDictionary(StringComparer.Ordinal);
    }

    public static StaticAssets Shared => Instance.Value;

    /// <summary>The asset names, e.g. <c>index.html</c>, <c>vendor/uplot/uPlot.iife.min.js</c>.</summary>
    public IEnumerable<string> Names => _assets.Keys;

    public bool TryGet(string path, out Asset asset) => _assets.TryGetValue(path, out asset!);

    /// <summary>Serves an asset: 304 when the client's <c>If-None-Match</c> has its ETag, else the bytes.</summary>
    public static Task ServeAsync(HttpContext context, Asset asset)
    {
        var response = context.Response;
        response.Headers.ETag = asset.ETag;
        response.Headers.CacheControl = "no-cache";
        var ifNoneMatch = context.Request.Headers.IfNoneMatch;
        foreach (var value in ifNoneMatch)
        {
            if (value is not null && (value.Contains(asset.ETag, StringComparison.Ordinal) || value.Trim() == "*"))
            {
                response.StatusCode = StatusCodes.Status304NotModified;
                return Task.CompletedTask;
            }
        }

        response.StatusCode = StatusCodes.Status200OK;
        response.ContentType = asset.ContentType;
        response.ContentLength = asset.Bytes.Length;
        if (HttpMethods.IsHead(context.Request.Method))
        {
            return Task.CompletedTask;
        }

        return response.Body.WriteAsync(asset.Bytes, context.RequestAborted).AsTask();
    }

    private static string ContentTypeOf(string name) => Path.GetExtension(name) switch
    {
        ".html" => "text/html; charset=utf-8",
        ".js" => "text/javascript; charset=utf-8",
        ".css" => "text/css; charset=utf-8",
        ".svg" => "image/svg+xml",
        _ => "text/plain; charset=utf-8",
    };

    /// <summary>One embedded file. Immutable.</summary>
    internal sealed record Asset(byte[] Bytes, string ContentType, string ETag);
}
