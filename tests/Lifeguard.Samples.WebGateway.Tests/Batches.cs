using System.Diagnostics;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Lifeguard.Samples.WebGateway.Tests;

/// <summary>Requests to post, and the optimiser run on its own for the plans to expect. Stateless.</summary>
public static class Batches
{
    public static string PythonDirectory { get; } = Path.Combine(AppContext.BaseDirectory, "python");

    /// <summary>
    /// The bundled batches of samples/python/deliveries.jsonl, one JSON object each, as Python has them: the
    /// optimiser's snake_case keys (<c>ready_at</c>).
    /// </summary>
    public static IReadOnlyList<string> Bundled(int count)
        => [.. File.ReadLines(Path.Combine(PythonDirectory, "deliveries.jsonl")).Take(count)];

    /// <summary>A batch or plan of Python's with the camelCase keys of the gateway's HTTP API: what a client posts.</summary>
    public static string ToCamelCase(string json) => Rename(JsonNode.Parse(json), CamelCase)!.ToJsonString();

    /// <summary>A plan the gateway answered, with Python's snake_case keys, to compare with the optimiser's own.</summary>
    public static JsonElement ToSnakeCase(JsonElement json)
        => JsonSerializer.SerializeToElement(Rename(JsonNode.Parse(json.GetRawText()), JsonNamingPolicy.SnakeCaseLower.ConvertName));

    /// <summary>Three deliveries: two whose pickups are half a kilometre apart near courier c1, one next to c2.</summary>
    public static JsonObject Small() => new()
    {
        ["batch"] = "small",
        ["couriers"] = new JsonArray(Courier("c1", 0, 0), Courier("c2", 10, 10)),
        ["deliveries"] = new JsonArray(
            Delivery("d1", [0, 1], [0, 3]),
            Delivery("d2", [0.5, 1], [0, 4]),
            Delivery("d3", [10, 11], [10, 13])),
    };

    public static JsonObject Delivery(string id, double[] pickup, double[] dropoff)
        => new() { ["id"] = id, ["pickup"] = Point(pickup), ["dropoff"] = Point(dropoff) };

    public static async Task<HttpResponseMessage> PostAsync(HttpClient client, string json)
    {
        using var content = new StringContent(json, System.Text.Encoding.UTF8, "application/json");
        return await client.PostAsync(new Uri("/stack", UriKind.Relative), content);
    }

    public static Task<HttpResponseMessage> PostAsync(HttpClient client, JsonNode batch) => PostAsync(client, batch.ToJsonString());

    public static async Task<JsonElement> ReadJsonAsync(HttpResponseMessage response)
        => await response.Content.ReadFromJsonAsync<JsonElement>();

    /// <summary>
    /// Plans each batch with samples/python/optimizer.py in one python3 process of its own, without the gateway or
    /// the pool, and returns the plans in order: what the gateway must answer.
    /// </summary>
    public static async Task<IReadOnlyList<JsonElement>> PlanDirectlyAsync(IReadOnlyList<string> batches)
    {
        var start = new ProcessStartInfo(Environment.GetEnvironmentVariable("LIFEGUARD_PYTHON") is { Length: > 0 } python ? python : "python3")
        {
            UseShellExecute = false,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            WorkingDirectory = PythonDirectory,
        };
        start.ArgumentList.Add("-c");
        start.ArgumentList.Add("import json, sys, optimizer\nfor line in sys.stdin:\n    print(json.dumps(optimizer.optimize(json.loads(line))))");
        using var process = Process.Start(start)!;
        try
        {
            var output = process.StandardOutput.ReadToEndAsync();
            foreach (var batch in batches)
            {
                await process.StandardInput.WriteLineAsync(batch);
            }

            process.StandardInput.Close();
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            await process.WaitForExitAsync(timeout.Token);
            Assert.Equal(0, process.ExitCode);
            return [.. (await output).Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(line => JsonElement.Parse(line))];
        }
        finally
        {
            if (!process.HasExited)
            {
                process.Kill();
            }
        }
    }

    /// <summary>Renames every key of every object in the value; arrays keep their order.</summary>
    private static JsonNode? Rename(JsonNode? node, Func<string, string> rename)
    {
        switch (node)
        {
            case JsonObject obj:
                var renamed = new JsonObject();
                foreach (var (key, value) in obj.ToList())
                {
                    obj.Remove(key);
                    renamed[rename(key)] = Rename(value, rename);
                }

                return renamed;
            case JsonArray array:
                var items = array.ToList();
                array.Clear();
                return new JsonArray([.. items.Select(item => Rename(item, rename))]);
            default:
                return node;
        }
    }

    /// <summary><c>due_by</c> as <c>dueBy</c>.</summary>
    private static string CamelCase(string key)
    {
        var parts = key.Split('_');
        return parts[0] + string.Concat(parts.Skip(1).Select(p => p.Length == 0 ? p : char.ToUpperInvariant(p[0]) + p[1..]));
    }

    private static JsonObject Courier(string id, double x, double y) => new() { ["id"] = id, ["at"] = Point([x, y]) };

    private static JsonArray Point(double[] xy) => new(xy[0], xy[1]);
}
