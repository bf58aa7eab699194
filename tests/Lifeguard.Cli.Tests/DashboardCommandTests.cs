using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace Lifeguard.Cli.Tests;

/// <summary>
/// <c>lifeguard run --dashboard</c> and <c>lifeguard demo --dashboard</c>, as a user runs them: the command's real
/// process, its real <c>python3</c> workers, and HTTP to the address it prints. Inputs wait at a gate (a release file
/// the test creates), so the page is looked at while calls are known to be in flight.
/// </summary>
public sealed partial class DashboardCommandTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("lifeguard-dash-").FullName;
    private readonly HttpClient _http = new() { Timeout = TimeSpan.FromSeconds(30) };

    private static string Fixture(string function) => Path.Combine(AppContext.BaseDirectory, "python", "runsafe.py") + ":" + function;

    public void Dispose()
    {
        _http.Dispose();
        Directory.Delete(_dir, recursive: true);
    }

    [Fact]
    public async Task Run_Dashboard_ServesThePoolOnLoopbackWhileTheRunLasts()
    {
        var input = Gated(count: 4, waitFrom: 0);
        var output = Path.Combine(_dir, "out.jsonl");
        using var run = CliRun.Start("run", Fixture("gate"), "--input", input, "--output", output, "--size", "2", "--dashboard");
        var page = await PageAsync(run);
        var pids = await StartedAsync(0, 1);

        Assert.Equal("127.0.0.1", page.Host);
        Assert.Equal("/lifeguard/", page.AbsolutePath);
        Assert.DoesNotContain("dashboard token:", run.Stderr, StringComparison.Ordinal); // read-only unless asked
        var html = await _http.GetStringAsync(page);
        Assert.Contains("<html", html, StringComparison.OrdinalIgnoreCase);

        var pool = await PoolAsync(page, p => p.GetProperty("busy").GetInt32() == 2);
        Assert.Equal("run:runsafe.py", pool.GetProperty("name").GetString());
        var workers = pool.GetProperty("workers").EnumerateArray().ToArray();
        Assert.Equal(pids.Order(), workers.Select(w => w.GetProperty("pid").GetInt32()).Order());
        Assert.All(workers, w => Assert.EndsWith(".gate", w.GetProperty("call").GetProperty("function").GetString(), StringComparison.Ordinal));

        // Read-only: the actions are not mapped.
        using (var kill = await _http.PostAsync(new Uri(page, $"api/pools/{Uri.EscapeDataString("run:runsafe.py")}/recycle"), null))
        {
            Assert.Equal(HttpStatusCode.NotFound, kill.StatusCode);
        }

        Release();
        Assert.Equal(0, await run.WaitForExitAsync());
        Assert.Equal(4, File.ReadAllLines(output).Length);
        await Assert.ThrowsAsync<HttpRequestException>(() => _http.GetAsync(new Uri(page, "api/snapshot")));
        foreach (var pid in pids)
        {
            await Poll.GoneAsync(pid);
        }
    }

    [Fact]
    public async Task Run_DashboardActions_PrintTheToken_AKillNeedsIt_AndTheKilledInputIsRetried()
    {
        var input = Gated(count: 3, waitFrom: 0);
        var output = Path.Combine(_dir, "out.jsonl");
        using var run = CliRun.Start("run", Fixture("gate"), "--input", input, "--output", output, "--size", "2", "--retries", "1", "--dashboard-actions");
        var page = await PageAsync(run);
        await run.WaitForStderrAsync("dashboard token: ");
        var token = TokenLine().Match(run.Stderr).Groups["token"].Value;
        Assert.True(token.Length >= 32, run.Stderr);
        var lines = run.Stderr.Split('\n');
        Assert.StartsWith("dashboard token: ", lines[Array.FindIndex(lines, l => l.StartsWith("dashboard: http", StringComparison.Ordinal)) + 1], StringComparison.Ordinal);
        await StartedAsync(0, 1);

        var pool = await PoolAsync(page, p => p.GetProperty("busy").GetInt32() == 2);
        var victim = pool.GetProperty("workers")[0];
        int victimPid = victim.GetProperty("pid").GetInt32();
        var kill = new Uri(page, $"api/pools/{Uri.EscapeDataString("run:runsafe.py")}/workers/{victim.GetProperty("id").GetInt32()}/kill");

        Assert.Equal(HttpStatusCode.Forbidden, await PostAsync(kill, token: null));
        Assert.Equal(HttpStatusCode.Forbidden, await PostAsync(kill, token: token + "x"));
        Assert.True(Directory.Exists($"/proc/{victimPid}"), "a refused kill kills nothing");
        var killed = await PostAsync(kill, token);
        Assert.True((int)killed is >= 200 and < 300, $"kill with the token: {killed}");
        await Poll.GoneAsync(victimPid);
        await run.WaitForStderrAsync("dashboard action kill");
        Assert.Contains("127.0.0.1", run.Stderr, StringComparison.Ordinal); // the audit line names the caller's address
        Assert.Single(Regex.Matches(run.Stderr, Regex.Escape(token))); // printed once, never in the audit

        // The replacement appears on the page, and the killed input runs again on it.
        await PoolAsync(page, p => p.GetProperty("workers").EnumerateArray().Count(w => w.TryGetProperty("pid", out var pid) && pid.ValueKind == JsonValueKind.Number && pid.GetInt32() != victimPid) == 2);
        Release();
        Assert.Equal(0, await run.WaitForExitAsync());
        var entries = File.ReadAllLines(output).Select(l => JsonDocument.Parse(l).RootElement).ToArray();
        Assert.Equal([0, 1, 2], entries.Select(e => e.GetProperty("result").GetInt32()));
    }

    [Fact]
    public async Task Run_DashboardAddress_ListensThere_AndImpliesDashboard()
    {
        int port = FreePort();
        var input = Gated(count: 1, waitFrom: 0);
        using var run = CliRun.Start("run", Fixture("gate"), "--input", input, "--output", Path.Combine(_dir, "out.jsonl"), "--size", "1", "--dashboard-address", "127.0.0.1:" + port.ToString(CultureInfo.InvariantCulture));
        var page = await PageAsync(run);

        Assert.Equal(new Uri($"http://127.0.0.1:{port}/lifeguard/"), page);
        await StartedAsync(0);
        Assert.Equal("run:runsafe.py", (await PoolAsync(page, _ => true)).GetProperty("name").GetString());
        Release();
        Assert.Equal(0, await run.WaitForExitAsync());
    }

    [Theory]
    [InlineData("localhost")]
    [InlineData("127.0.0.1")]
    [InlineData("127.0.0.1:")]
    [InlineData("127.0.0.1:65536")]
    [InlineData("127.0.0.1:-1")]
    [InlineData("::1:8080")]
    [InlineData("example.com:8080")]
    [InlineData(":8080")]
    public async Task Run_DashboardAddress_NotHostPort_Exit2AndNothingRunOrWritten(string address)
    {
        var output = Path.Combine(_dir, "out.jsonl");
        var (code, stdout, stderr) = await CliProcess.RunAsync("run", Fixture("gate"), "--input", Gated(count: 1, waitFrom: 0), "--output", output, "--dashboard-address", address);

        Assert.Equal(2, code);
        Assert.Contains("--dashboard-address", stderr, StringComparison.Ordinal);
        Assert.Single(stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Equal("", stdout);
        Assert.False(File.Exists(output));
        Assert.False(File.Exists(Path.Combine(_dir, "started-0")));
    }

    [Fact]
    public async Task Run_DashboardAddressInUse_Exit2BeforeAnythingRuns()
    {
        using var taken = new TcpListener(IPAddress.Loopback, 0);
        taken.Start();
        int port = ((IPEndPoint)taken.LocalEndpoint).Port;
        var output = Path.Combine(_dir, "out.jsonl");

        var (code, _, stderr) = await CliProcess.RunAsync("run", Fixture("gate"), "--input", Gated(count: 1, waitFrom: 0), "--output", output, "--dashboard-address", $"127.0.0.1:{port}");

        Assert.Equal(2, code);
        Assert.Contains($"the dashboard cannot listen on 127.0.0.1:{port}", stderr, StringComparison.Ordinal);
        Assert.False(File.Exists(output));
        Assert.False(File.Exists(Path.Combine(_dir, "started-0")));
    }

    [Fact]
    public async Task Run_Sigint_TheDashboardStaysUpThroughTheGrace_ThenStopsWithTheRun()
    {
        var input = Gated(count: 3, waitFrom: 0);
        var output = Path.Combine(_dir, "out.jsonl");
        using var run = CliRun.Start("run", Fixture("gate"), "--input", input, "--output", output, "--size", "2", "--grace", "10m", "--dashboard");
        var page = await PageAsync(run);
        await StartedAsync(0, 1);

        run.Signal("INT");
        await run.WaitForStderrAsync("interrupted; reading no more input");
        var pool = await PoolAsync(page, _ => true); // still served while the calls in flight finish
        Assert.Equal(2, pool.GetProperty("busy").GetInt32());
        Release();

        Assert.Equal(130, await run.WaitForExitAsync());
        Assert.Equal(2, File.ReadAllLines(output).Length);
        await Assert.ThrowsAsync<HttpRequestException>(() => _http.GetAsync(new Uri(page, "api/snapshot")));
    }

    [Theory]
    [InlineData("INT")]
    [InlineData("TERM")]
    public async Task Demo_Dashboard_KeepsBothPoolsUpAfterTheDemo_UntilASignal(string signal)
    {
        using var demo = CliRun.Start("demo", "--dashboard");
        var page = await PageAsync(demo);
        await demo.WaitForStderrAsync("the demo is over; its pools stay on " + page);

        using var snapshot = JsonDocument.Parse(await _http.GetStringAsync(new Uri(page, "api/snapshot")));
        var pools = snapshot.RootElement.GetProperty("pools").EnumerateArray().ToArray();
        Assert.Equal(["squares", "stacking"], pools.Select(p => p.GetProperty("name").GetString()).Order());
        Assert.All(pools, p => Assert.Equal("Ready", p.GetProperty("state").GetString()));
        var pids = pools.SelectMany(p => p.GetProperty("workers").EnumerateArray()).Select(w => w.GetProperty("pid").GetInt32()).ToArray();
        Assert.True(pids.Length >= 9, snapshot.RootElement.ToString()); // 5 squares (and overflow not yet dismissed), 4 stacking

        demo.Signal(signal);
        Assert.Equal(0, await demo.WaitForExitAsync()); // the expected end: the exit code is the demo's
        Assert.Contains("no input lost", demo.Stdout, StringComparison.Ordinal);
        foreach (var pid in pids)
        {
            await Poll.GoneAsync(pid);
        }
    }

    [Fact]
    public async Task Demo_SignalDuringTheDemo_StopsItsPoolsAndExits143()
    {
        using var demo = CliRun.Start("demo");
        int[] workers = [];
        await Poll.UntilAsync(() => (workers = WorkerPids(demo.Pid)).Length > 0, "the demo's first pool to start workers");
        demo.Signal("TERM");

        Assert.Equal(143, await demo.WaitForExitAsync());
        Assert.Contains("lifeguard demo: interrupted; its pools are stopped.", demo.Stderr, StringComparison.Ordinal);
        foreach (var pid in workers)
        {
            await Poll.GoneAsync(pid);
        }
    }

    /// <summary>The pids of the python workers whose parent is <paramref name="parent"/>, from /proc.</summary>
    private static int[] WorkerPids(int parent)
    {
        var pids = new List<int>();
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), NumberStyles.None, CultureInfo.InvariantCulture, out int pid))
            {
                continue;
            }

            try
            {
                var stat = File.ReadAllText(Path.Combine(dir, "stat"));
                var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
                if (int.Parse(fields[1], CultureInfo.InvariantCulture) == parent && File.ReadAllText(Path.Combine(dir, "cmdline")).Contains("lifeguard_worker.py", StringComparison.Ordinal))
                {
                    pids.Add(pid);
                }
            }
            catch (IOException)
            {
                // gone meanwhile
            }
        }

        return [.. pids];
    }

    private static int FreePort()
    {
        using var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        return ((IPEndPoint)probe.LocalEndpoint).Port;
    }

    /// <summary>Waits for the <c>dashboard: URL</c> line and returns the URL.</summary>
    private static async Task<Uri> PageAsync(CliRun run)
    {
        await run.WaitForStderrAsync("dashboard: http");
        var match = PageLine().Match(run.Stderr);
        Assert.True(match.Success, run.Stderr);
        return new Uri(match.Groups["url"].Value);
    }

    /// <summary>Polls the snapshot, within a bound, until its only pool satisfies <paramref name="condition"/>.</summary>
    private async Task<JsonElement> PoolAsync(Uri page, Func<JsonElement, bool> condition)
    {
        JsonElement last = default;
        await Poll.UntilAsync(
            () =>
            {
                using var snapshot = JsonDocument.Parse(_http.GetStringAsync(new Uri(page, "api/snapshot")).GetAwaiter().GetResult());
                last = Assert.Single(snapshot.RootElement.GetProperty("pools").EnumerateArray()).Clone();
                return condition(last);
            },
            "the dashboard's pool to match",
            60);
        return last;
    }

    private async Task<HttpStatusCode> PostAsync(Uri uri, string? token)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, uri);
        if (token is not null)
        {
            request.Headers.Add("X-Lifeguard-Token", token);
        }

        using var response = await _http.SendAsync(request);
        return response.StatusCode;
    }

    private string Gated(int count, int waitFrom)
    {
        var path = Path.Combine(_dir, "in.jsonl");
        File.WriteAllLines(path, Enumerable.Range(0, count).Select(i => JsonSerializer.Serialize(new { n = i, dir = _dir, wait = i >= waitFrom })));
        return path;
    }

    /// <summary>Waits until the gated inputs have started, and returns the pids of the workers running them.</summary>
    private async Task<int[]> StartedAsync(params int[] inputs)
    {
        var markers = inputs.Select(n => Path.Combine(_dir, $"started-{n}")).ToArray();
        await Poll.UntilAsync(() => markers.All(m => File.Exists(m) && new FileInfo(m).Length > 0), "the gated inputs to start");
        return markers.Select(m => int.Parse(File.ReadAllText(m), CultureInfo.InvariantCulture)).ToArray();
    }

    private void Release() => File.WriteAllText(Path.Combine(_dir, "release"), "");

    [GeneratedRegex(@"^dashboard: (?<url>http://\S+/lifeguard/)$", RegexOptions.Multiline)]
    private static partial Regex PageLine();

    [GeneratedRegex(@"^dashboard token: (?<token>\S+)$", RegexOptions.Multiline)]
    private static partial Regex TokenLine();
}
