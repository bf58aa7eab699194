using System.Net;
using System.Net.Http.Headers;
using System.Text.RegularExpressions;

namespace Lifeguard.Dashboard.Tests;

/// <summary>The page and its files over HTTP: where they are, their headers, caching, and no inline code.</summary>
public sealed partial class PageTests
{
    private const string Csp =
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
        + "font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

    [Fact]
    public async Task Page_WithoutTrailingSlash_RedirectsToTheSlash()
    {
        await using var server = await DashboardServer.StartAsync();
        using var client = new HttpClient(new HttpClientHandler { AllowAutoRedirect = false }) { BaseAddress = server.Root };

        using var response = await client.GetAsync(new Uri("/lifeguard?x=1", UriKind.Relative));

        Assert.Equal(HttpStatusCode.MovedPermanently, response.StatusCode);
        Assert.Equal("/lifeguard/?x=1", response.Headers.Location?.ToString());
    }

    [Fact]
    public async Task Page_StrictHeaders_NoInlineScriptOrStyle_RevalidatedByETag()
    {
        await using var server = await DashboardServer.StartAsync();

        using var response = await server.Client.GetAsync(server.Page);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/html", response.Content.Headers.ContentType?.MediaType);
        AssertSecurityHeaders(response);
        var html = await response.Content.ReadAsStringAsync();
        Assert.DoesNotMatch(InlineScript(), html);
        Assert.DoesNotContain("<style", html, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain(" style=", html, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("http://", html, StringComparison.Ordinal);
        Assert.DoesNotContain("https://", html, StringComparison.Ordinal);
        Assert.Contains("src=\"assets/app.js\"", html, StringComparison.Ordinal);

        var etag = response.Headers.ETag;
        Assert.NotNull(etag);
        Assert.Equal("no-cache", response.Headers.CacheControl?.ToString());
        using var again = new HttpRequestMessage(HttpMethod.Get, server.Page);
        again.Headers.IfNoneMatch.Add(etag);
        using var notModified = await server.Client.SendAsync(again);
        Assert.Equal(HttpStatusCode.NotModified, notModified.StatusCode);
    }

    [Theory]
    [InlineData("assets/app.js", "text/javascript")]
    [InlineData("assets/app.css", "text/css")]
    [InlineData("assets/vendor/uplot/uPlot.iife.min.js", "text/javascript")]
    [InlineData("assets/vendor/uplot/uPlot.min.css", "text/css")]
    [InlineData("assets/vendor/uplot/LICENSE", "text/plain")]
    public async Task Assets_EmbeddedFiles_ServedWithTheirTypeAndHeaders(string path, string type)
    {
        await using var server = await DashboardServer.StartAsync();

        using var response = await server.Client.GetAsync(new Uri(path, UriKind.Relative));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(type, response.Content.Headers.ContentType?.MediaType);
        AssertSecurityHeaders(response);
        Assert.NotNull(response.Headers.ETag);
        Assert.True((await response.Content.ReadAsByteArrayAsync()).Length > 0);
    }

    [Theory]
    [InlineData("assets/nope.js")]
    [InlineData("assets/index.html")]
    [InlineData("assets/../Lifeguard.Dashboard.dll")]
    [InlineData("api/nope")]
    public async Task Assets_Unknown_404(string path)
    {
        await using var server = await DashboardServer.StartAsync();

        using var response = await server.Client.GetAsync(new Uri(path, UriKind.Relative));

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
    }

    [Fact]
    public async Task Api_CarriesTheSecurityHeadersToo()
    {
        await using var server = await DashboardServer.StartAsync();

        using var response = await server.Client.GetAsync(new Uri("api/snapshot", UriKind.Relative));

        AssertSecurityHeaders(response);
    }

    [Fact]
    public async Task Page_AtTheRoot_Served()
    {
        await using var server = await DashboardServer.StartAsync(prefix: "");

        using var page = await server.Client.GetAsync(server.Root);
        using var script = await server.Client.GetAsync(new Uri(server.Root, "assets/app.js"));

        Assert.Equal(HttpStatusCode.OK, page.StatusCode);
        Assert.Equal("text/html", page.Content.Headers.ContentType?.MediaType);
        Assert.Equal(HttpStatusCode.OK, script.StatusCode);
    }

    private static void AssertSecurityHeaders(HttpResponseMessage response)
    {
        Assert.Equal(Csp, Header(response.Headers, "Content-Security-Policy"));
        Assert.Equal("nosniff", Header(response.Headers, "X-Content-Type-Options"));
        Assert.Equal("DENY", Header(response.Headers, "X-Frame-Options"));
        Assert.Equal("no-referrer", Header(response.Headers, "Referrer-Policy"));
    }

    private static string Header(HttpResponseHeaders headers, string name)
        => headers.TryGetValues(name, out var values) ? string.Join(",", values) : "";

    // A <script> element without a src attribute: inline code, which the policy would refuse anyway.
    [GeneratedRegex(@"<script(?![^>]*\ssrc=)[^>]*>", RegexOptions.IgnoreCase)]
    private static partial Regex InlineScript();
}
