using System.Buffers;
using System.Text.Json;
using Microsoft.AspNetCore.Http;

namespace Lifeguard.Dashboard;

/// <summary>
/// The headers every dashboard response carries, and the JSON and problem-details bodies it writes. Stateless and
/// thread-safe.
/// </summary>
internal static class Responses
{
    /// <summary>
    /// Only the dashboard's own origin, no inline script or style (the page's script and stylesheet are embedded files),
    /// no framing, no plugins, no base-URI games.
    /// </summary>
    public const string ContentSecurityPolicy =
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
        + "font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

    public static void ApplySecurityHeaders(HttpResponse response)
    {
        var headers = response.Headers;
        headers.ContentSecurityPolicy = ContentSecurityPolicy;
        headers.XContentTypeOptions = "nosniff";
        headers.XFrameOptions = "DENY";
        headers["Referrer-Policy"] = "no-referrer";
        headers["Cross-Origin-Opener-Policy"] = "same-origin";
        headers["Cross-Origin-Resource-Policy"] = "same-origin";
    }

    public static Task WriteJsonAsync(HttpContext context, int status, byte[] body)
    {
        context.Response.StatusCode = status;
        context.Response.ContentType = "application/json; charset=utf-8";
        context.Response.Headers.CacheControl = "no-store";
        context.Response.ContentLength = body.Length;
        return context.Response.Body.WriteAsync(body, context.RequestAborted).AsTask();
    }

    public static Task WriteJsonAsync(HttpContext context, int status, Action<Utf8JsonWriter> write)
    {
        var buffer = new ArrayBufferWriter<byte>(256);
        using (var json = new Utf8JsonWriter(buffer))
        {
            write(json);
        }

        return WriteJsonAsync(context, status, buffer.WrittenSpan.ToArray());
    }

    /// <summary>An RFC 9457 problem-details body: <c>type</c>, <c>title</c>, <c>status</c>, <c>detail</c>.</summary>
    public static Task WriteProblemAsync(HttpContext context, int status, string title, string detail)
    {
        var buffer = new ArrayBufferWriter<byte>(256);
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            json.WriteString("type", $"https://tools.ietf.org/html/rfc9110#section-15.{(status >= 500 ? 6 : 5)}.{TypeIndex(status)}");
            json.WriteString("title", title);
            json.WriteNumber("status", status);
            json.WriteString("detail", detail);
            json.WriteEndObject();
        }

        var body = buffer.WrittenSpan.ToArray();
        context.Response.StatusCode = status;
        context.Response.ContentType = "application/problem+json; charset=utf-8";
        context.Response.Headers.CacheControl = "no-store";
        context.Response.ContentLength = body.Length;
        return context.Response.Body.WriteAsync(body, context.RequestAborted).AsTask();
    }

    // RFC 9110's section numbers for the statuses the dashboard answers with (15.5.1 is 400, 15.5.4 403, ...).
    private static int TypeIndex(int status) => status switch
    {
        400 => 1,
        403 => 4,
        404 => 5,
        405 => 6,
        409 => 10,
        413 => 14,
        415 => 16,
        500 => 1,
        503 => 4,
        _ => 1,
    };
}
