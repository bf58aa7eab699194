using System.Globalization;
using System.Text.Json;

namespace Lifeguard.Cli.Tests;

/// <summary><c>lifeguard run</c> with a generator function: one entry per item, then a closing entry per input.</summary>
public sealed class RunGeneratorTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("lifeguard-rungen-").FullName;

    private static string Fixture(string function) => Path.Combine(AppContext.BaseDirectory, "python", "rungen.py") + ":" + function;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public async Task Generator_AnEntryPerItem_ThenAClosingEntry_ErrorsAfterTheirItems()
    {
        var input = Write("in.jsonl", "\"a b c\"", "\"\"", "", "\"x raise y\"", "not json", "\"d\"");

        var (code, output, error) = await CliProcess.RunAsync("run", Fixture("words"), "--input", input, "--size", "2");

        Assert.Equal(1, code);
        Assert.Equal(
            """
            {"index":0,"line":1,"item":0,"result":"A"}
            {"index":0,"line":1,"item":1,"result":"B"}
            {"index":0,"line":1,"item":2,"result":"C"}
            {"index":0,"line":1,"items":3}
            {"index":1,"line":2,"items":0}
            {"index":2,"line":4,"item":0,"result":"X"}
            {"index":2,"line":4,"error":{"type":"ValueError","message":"raised after the words before it"}}
            """.ReplaceLineEndings("\n"),
            string.Join("\n", output.TrimEnd().Split('\n').Take(7)));
        var last = output.TrimEnd().Split('\n')[7..].Select(l => JsonDocument.Parse(l).RootElement).ToArray();
        Assert.Equal("InvalidInput", last[0].GetProperty("error").GetProperty("type").GetString());
        Assert.Equal("{\"index\":4,\"line\":6,\"item\":0,\"result\":\"D\"}", last[1].GetRawText());
        Assert.Equal("{\"index\":4,\"line\":6,\"items\":1}", last[2].GetRawText());
        Assert.Contains("5 inputs, 3 succeeded, 2 failed (InvalidInput 1, ValueError 1); 5 items yielded", error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AsyncGenerator_AndManyItemsPerInput_InInputOrder()
    {
        var input = Write("in.jsonl", "3", "0", "2");
        var (code, output, error) = await CliProcess.RunAsync("run", Fixture("countdown"), "--input", input);
        Assert.True(code == 0, error);
        Assert.Equal(
            ["0:3", "0:2", "0:1", "0:#3", "1:#0", "2:2", "2:1", "2:#2"],
            output.TrimEnd().Split('\n').Select(Describe));

        // Inputs running side by side on three workers, thousands of items each: written whole, in input order.
        var many = Write("many.jsonl", "5000", "1", "3000", "2");
        (code, output, error) = await CliProcess.RunAsync("run", Fixture("many"), "--input", many, "--size", "3");
        Assert.True(code == 0, error);
        var entries = output.TrimEnd().Split('\n').Select(l => JsonDocument.Parse(l).RootElement).ToArray();
        Assert.Equal(5000 + 1 + 1 + 1 + 3000 + 1 + 2 + 1, entries.Length);
        int position = 0;
        foreach (var (index, count) in new[] { (0, 5000), (1, 1), (2, 3000), (3, 2) })
        {
            for (int k = 0; k < count; k++, position++)
            {
                Assert.Equal(index, entries[position].GetProperty("index").GetInt32());
                Assert.Equal(k, entries[position].GetProperty("item").GetInt32());
                Assert.Equal(k, entries[position].GetProperty("result").GetInt32());
            }

            Assert.Equal(count, entries[position++].GetProperty("items").GetInt32());
        }
    }

    [Fact]
    public async Task KilledInTheMiddleOfAnInputsItems_ResumeRunsThatInputAgain_SameBytesAsAnUninterruptedRun()
    {
        var lines = Enumerable.Range(0, 6)
            .Select(i => JsonSerializer.Serialize(new { i, n = 5, dir = _dir, wait = i == 2 }))
            .ToArray();
        var input = Write("in.jsonl", lines);
        var output = Path.Combine(_dir, "out.jsonl");
        int pid;
        using (var run = CliRun.Start("run", Fixture("gated"), "--input", input, "--output", output, "--size", "1"))
        {
            // Inputs 0 and 1 complete (6 entries each), then input 2's first three items; then it waits at the gate.
            var marker = Path.Combine(_dir, "started");
            await Poll.UntilAsync(() => File.Exists(marker) && new FileInfo(marker).Length > 0, "input 2 to reach its gate");
            pid = int.Parse(File.ReadAllText(marker), CultureInfo.InvariantCulture);
            await Poll.UntilAsync(() => File.Exists(output) && File.ReadAllLines(output).Length == 15, "the first 15 entries to reach the file");
            run.Signal("KILL");
            await run.WaitForExitAsync();
        }

        await Poll.GoneAsync(pid);
        File.WriteAllText(Path.Combine(_dir, "release"), "");
        var (code, stdout, error) = await CliProcess.RunAsync("run", Fixture("gated"), "--input", input, "--output", output, "--resume");
        Assert.True(code == 0, error);
        Assert.Contains("2 of them kept from the earlier run", error, StringComparison.Ordinal);

        var uninterrupted = Path.Combine(_dir, "full.jsonl");
        Assert.Equal(0, (await CliProcess.RunAsync("run", Fixture("gated"), "--input", input, "--output", uninterrupted)).ExitCode);
        Assert.Equal(File.ReadAllText(uninterrupted), File.ReadAllText(output));
        Assert.Equal(6 * 6, File.ReadAllLines(output).Length);
    }

    [Theory]
    [InlineData("{\"index\":0,\"line\":1,\"item\":1,\"result\":\"A\"}", "is item 1 of input 0, but item 0 comes next")]
    [InlineData("{\"index\":0,\"line\":1,\"item\":0,\"result\":\"A\"}\n{\"index\":0,\"line\":1,\"items\":2}", "closes input 0 with 2 items, but 1 precede it")]
    [InlineData("{\"index\":0,\"line\":1,\"item\":\"first\",\"result\":\"A\"}", "is not an item entry")]
    [InlineData("{\"index\":\"0\",\"line\":1,\"result\":\"A\"}", "is not an entry")]
    [InlineData("{\"index\":0,\"line\":1,\"items\":\"none\"}", "is not an entry")]
    public async Task Resume_ItemsThatDoNotAddUp_RefusedWithExit2AndUntouched(string existing, string problem)
    {
        var input = Write("in.jsonl", "\"a b\"", "\"c\"");
        var output = Path.Combine(_dir, "out.jsonl");
        File.WriteAllText(output, existing + "\n");

        var (code, _, error) = await CliProcess.RunAsync("run", Fixture("words"), "--input", input, "--output", output, "--resume");

        Assert.Equal(2, code);
        Assert.Contains(problem, error, StringComparison.Ordinal);
        Assert.Equal(existing + "\n", File.ReadAllText(output));
    }

    /// <summary><c>index:result</c> for an item, <c>index:#items</c> for a closing entry.</summary>
    private static string Describe(string line)
    {
        var entry = JsonDocument.Parse(line).RootElement;
        int index = entry.GetProperty("index").GetInt32();
        return entry.TryGetProperty("items", out var items)
            ? string.Create(CultureInfo.InvariantCulture, $"{index}:#{items.GetInt32()}")
            : string.Create(CultureInfo.InvariantCulture, $"{index}:{entry.GetProperty("result").GetInt32()}");
    }

    private string Write(string name, params string[] lines)
    {
        var path = Path.Combine(_dir, name);
        File.WriteAllLines(path, lines);
        return path;
    }
}
