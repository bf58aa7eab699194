using System.Globalization;
using System.Net;
using System.Text.RegularExpressions;

namespace Lifeguard.Samples.WebGateway.Tests;

/// <summary>A scrape of <c>GET /metrics</c>, parsed: each sample's name, labels and value, and each family's type. Immutable.</summary>
public sealed partial class PrometheusText
{
    private PrometheusText(string text, IReadOnlyList<PrometheusSample> samples, IReadOnlyDictionary<string, string> types)
    {
        Text = text;
        Samples = samples;
        Types = types;
    }

    public string Text { get; }

    public IReadOnlyList<PrometheusSample> Samples { get; }

    /// <summary>The <c># TYPE</c> of each metric family, by name.</summary>
    public IReadOnlyDictionary<string, string> Types { get; }

    /// <summary>Scrapes <c>/metrics</c> of <paramref name="client"/>, asserting a 200 in the 0.0.4 text format.</summary>
    public static async Task<PrometheusText> ScrapeAsync(HttpClient client)
    {
        using var response = await client.GetAsync(new Uri("/metrics", UriKind.Relative));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var contentType = response.Content.Headers.ContentType;
        Assert.Equal("text/plain", contentType?.MediaType);
        Assert.Contains(contentType!.Parameters, p => p.Name == "version" && p.Value == "0.0.4");
        return Parse(await response.Content.ReadAsStringAsync());
    }

    /// <summary>
    /// Scrapes until <paramref name="condition"/> holds, within 10 s. For figures recorded after the response has gone,
    /// as ASP.NET Core's request duration is: a client can read its response before the server has counted it.
    /// </summary>
    public static async Task<PrometheusText> ScrapeUntilAsync(HttpClient client, Func<PrometheusText, bool> condition, string what)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (true)
        {
            var scraped = await ScrapeAsync(client);
            if (condition(scraped))
            {
                return scraped;
            }

            Assert.True(DateTime.UtcNow < deadline, $"Within 10 s, never {what}. The last scrape:\n{scraped.Text}");
            await Task.Delay(20);
        }
    }

    /// <summary>Parses the text format; a line that is neither a comment nor a sample fails the test.</summary>
    public static PrometheusText Parse(string text)
    {
        var samples = new List<PrometheusSample>();
        var types = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var line in text.Split('\n'))
        {
            if (line.Length == 0)
            {
                continue;
            }

            if (line.StartsWith("# TYPE ", StringComparison.Ordinal))
            {
                var parts = line.Split(' ');
                types[parts[2]] = parts[3];
                continue;
            }

            if (line.StartsWith('#'))
            {
                continue;
            }

            var match = SampleLine().Match(line);
            Assert.True(match.Success, $"Not a sample line: {line}");
            var labels = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (Match label in Label().Matches(match.Groups["labels"].Value))
            {
                labels[label.Groups["name"].Value] = Regex.Unescape(label.Groups["value"].Value);
            }

            samples.Add(new PrometheusSample(
                match.Groups["name"].Value, labels, double.Parse(match.Groups["value"].Value, NumberStyles.Float, CultureInfo.InvariantCulture)));
        }

        return new PrometheusText(text, samples, types);
    }

    /// <summary>The samples named <paramref name="name"/> whose labels include every one of <paramref name="labels"/>.</summary>
    public IEnumerable<PrometheusSample> Find(string name, params (string Name, string Value)[] labels)
        => Samples.Where(s => s.Name == name && labels.All(l => s.Labels.TryGetValue(l.Name, out var v) && v == l.Value));

    /// <summary>The one sample of <paramref name="name"/> for the <c>stacking</c> pool.</summary>
    public double Pool(string name, params (string Name, string Value)[] labels)
        => Assert.Single(Find(name, [("lifeguard_pool_name", "stacking"), .. labels])).Value;

    /// <summary>A counter's value for the <c>stacking</c> pool, or 0 while it has counted nothing, so has no sample yet.</summary>
    public double PoolCounter(string name)
        => Find(name, ("lifeguard_pool_name", "stacking")).Any() ? Pool(name) : 0;

    [GeneratedRegex("""^(?<name>[a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?<labels>.*)\})? (?<value>\S+)( \d+)?$""")]
    private static partial Regex SampleLine();

    [GeneratedRegex("""(?<name>[a-zA-Z_][a-zA-Z0-9_]*)="(?<value>(?:[^"\\]|\\.)*)",?""")]
    private static partial Regex Label();
}

/// <summary>One line of a scrape: a sample of a metric. Immutable.</summary>
public sealed record PrometheusSample(string Name, IReadOnlyDictionary<string, string> Labels, double Value);
