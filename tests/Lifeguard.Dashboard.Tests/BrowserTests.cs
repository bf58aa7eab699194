using Lifeguard.Python;
using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace Lifeguard.Dashboard.Tests;

/// <summary>
/// The page in a real browser (headless Chromium) against real pools of python3 workers: what it lists, what a
/// click does, how it shows worker output, how it survives a dropped stream. Playwright's expectations wait (up to
/// their timeout) for the page to catch up; nothing sleeps.
/// </summary>
[Collection(BrowserCollection.Name)]
public sealed class BrowserTests(BrowserFixture browser) : IAsyncLifetime
{
    private static readonly LocatorAssertionsToHaveTextOptions Text = new() { Timeout = 30_000 };
    private static readonly LocatorAssertionsToHaveCountOptions Count = new() { Timeout = 30_000 };
    private static readonly LocatorAssertionsToContainTextOptions Contains = new() { Timeout = 30_000 };

    private IBrowserContext _context = null!;
    private IPage _page = null!;
    private List<string> _errors = null!;

    private DashboardServer Server => browser.Server;

    public async Task InitializeAsync() => (_context, _page, _errors) = await browser.OpenAsync();

    public async Task DisposeAsync()
    {
        await _context.CloseAsync();
        await _context.DisposeAsync();
    }

    [Fact]
    public async Task Page_ListsThePoolsWorkers_WithThePidsOfThePoolsStatus()
    {
        var pool = await StartAsync("page-list", size: 3);
        var section = Section("page-list");

        var rows = section.Locator("tr.worker");
        await Expect(rows).ToHaveCountAsync(3, Count);
        var status = pool.GetStatus();
        await Expect(section.Locator("td.w-pid")).ToHaveTextAsync(status.Workers.Select(w => w.ProcessId!.Value.ToString(System.Globalization.CultureInfo.InvariantCulture)), Text);
        await Expect(section.Locator("td.w-id")).ToHaveTextAsync(status.Workers.Select(w => w.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)), Text);
        await Expect(section.Locator("td.w-slot")).ToHaveTextAsync(status.Workers.Select(w => w.Slot.ToString(System.Globalization.CultureInfo.InvariantCulture)), Text);
        await Expect(section.Locator("td.w-generation")).ToHaveTextAsync(["1", "1", "1"], Text);
        await Expect(section.Locator("td.w-generation.old-generation")).ToHaveCountAsync(0, Count);
        await Expect(section.Locator(".pool-state")).ToHaveTextAsync("Ready", Text);
        await Expect(section.Locator(".c-idle")).ToHaveTextAsync("3", Text);
        await Expect(section.Locator(".c-size")).ToHaveTextAsync("3", Text);
        await Expect(section.Locator("td.w-rss").First).ToContainTextAsync("MiB", Contains);
        await Expect(_page.Locator("#connection")).ToHaveTextAsync("live", Text);
        Assert.Empty(_errors); // nothing refused by the Content-Security-Policy, no script errors
    }

    [Fact]
    public async Task Page_CallInProgress_ShowsModuleFunction()
    {
        var pool = await StartAsync("page-call", size: 2);
        using var cts = new CancellationTokenSource();
        var call = pool.CallAsync<double>("dash", "sleep", [60], cancellationToken: cts.Token);
        var section = Section("page-call");

        await Expect(section.Locator("td.w-call .w-call-name", new() { HasTextString = "dash.sleep" })).ToHaveCountAsync(1, Count);
        await Expect(section.Locator(".c-busy")).ToHaveTextAsync("1", Text);
        var busyRow = section.Locator("tr.worker.state-Busy");
        await Expect(busyRow.Locator(".w-state")).ToHaveTextAsync("Busy", Text);

        await cts.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => call);
        await Expect(section.Locator("td.w-call .w-call-name", new() { HasTextString = "dash.sleep" })).ToHaveCountAsync(0, Count);
    }

    [Fact]
    public async Task Page_UnderLoad_SizingLineAndCharts_Screenshot()
    {
        var pool = await StartAsync("stacking", size: 2, maxOverflow: 2);
        var section = Section("stacking");
        await Expect(section.Locator("tr.worker")).ToHaveCountAsync(2, Count);

        // Eight seconds of load from five callers on a pool of 2 (+2 overflow): calls, waits, leases, overflow.
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(8));
        var callers = Enumerable.Range(0, 5).Select(async caller =>
        {
            int calls = 0;
            while (!stop.IsCancellationRequested)
            {
                await pool.CallAsync<double>("dash", "sleep", [0.02 * (1 + (caller % 3))]);
                await pool.CallAsync<int>("dash", "say", [$"caller {caller} call {calls++}"]);
            }
        }).ToList();
        await Expect(section.Locator(".sizing")).ToContainTextAsync("advised Size", Contains);
        await Expect(section.Locator("td.w-call .w-call-name").First).ToContainTextAsync("dash.", Contains);
        await Task.WhenAll(callers);
        await Expect(section.Locator("pre.w-tail").First).ToContainTextAsync("caller", Contains);
        await Expect(section.Locator(".plot-calls canvas")).ToHaveCountAsync(1, Count);
        await section.ScreenshotAsync(new() { Path = Path.Combine(BrowserFixture.ScreenshotFolder, "dashboard-pool.png") });
        var killed = pool.GetStatus().Workers[0].Id;
        await pool.KillWorkerAsync(killed, "demo");
        await Expect(_page.Locator("#log tr.log-entry[data-kind='WorkerKilled']", new() { HasTextString = "stacking" })).ToHaveCountAsync(1, Count);
        await Expect(section.Locator($"tr[data-worker-id='{killed}']")).ToHaveCountAsync(0, Count);
        await _page.ScreenshotAsync(new() { Path = Path.Combine(BrowserFixture.ScreenshotFolder, "dashboard-page.png"), FullPage = true });
        Assert.Empty(_errors);
    }

    [Fact]
    public async Task Page_KillFromThePage_PidDisappearsAndAReplacementAppears()
    {
        var pool = await StartAsync("page-kill", size: 2);
        var victim = pool.GetStatus().Workers[0];
        var pid = victim.ProcessId!.Value.ToString(System.Globalization.CultureInfo.InvariantCulture);
        var section = Section("page-kill");
        await Expect(section.Locator("td.w-pid", new() { HasTextString = pid })).ToHaveCountAsync(1, Count);
        await _page.Locator("#token").FillAsync(BrowserFixture.Token);

        await section.Locator($"tr[data-worker-id='{victim.Id}'] .w-kill").ClickAsync();

        await Expect(section.Locator(".action-message")).ToContainTextAsync("200", Contains);
        await Expect(section.Locator("td.w-pid", new() { HasTextString = pid })).ToHaveCountAsync(0, Count);
        await Expect(section.Locator($"tr[data-worker-id='{victim.Id}']")).ToHaveCountAsync(0, Count);
        await Expect(section.Locator("tr.worker")).ToHaveCountAsync(2, Count);
        await TestPools.WaitUntilAsync(() => pool.GetStatus().Idle == 2, "the replacement is up");
        var now = pool.GetStatus().Workers.Select(w => w.ProcessId!.Value.ToString(System.Globalization.CultureInfo.InvariantCulture));
        await Expect(section.Locator("td.w-pid")).ToHaveTextAsync(now, Text);
        var log = _page.Locator("#log tr.log-entry[data-kind='WorkerKilled']", new() { HasTextString = "page-kill" });
        await Expect(log.Locator(".l-pid")).ToHaveTextAsync(pid, Text);
        await Expect(log.Locator(".l-detail")).ToContainTextAsync("[dashboard]", Contains);
    }

    [Fact]
    public async Task Page_ResizeFromThePage_ChangesTheCount()
    {
        var pool = await StartAsync("page-resize", size: 1);
        var section = Section("page-resize");
        await Expect(section.Locator("tr.worker")).ToHaveCountAsync(1, Count);
        await _page.Locator("#token").FillAsync(BrowserFixture.Token);

        await section.Locator(".resize-size").FillAsync("3");
        await section.Locator(".resize-overflow").FillAsync("1");
        await section.Locator("button.resize").ClickAsync();

        await Expect(section.Locator(".action-message")).ToContainTextAsync("200", Contains);
        await Expect(section.Locator(".c-size")).ToHaveTextAsync("3", Text);
        await Expect(section.Locator(".c-maxOverflow")).ToHaveTextAsync("1", Text);
        await Expect(section.Locator("tr.worker")).ToHaveCountAsync(3, Count);
        Assert.Equal(3, pool.GetStatus().Size);
        await Expect(_page.Locator("#log tr.log-entry[data-kind='Resized']", new() { HasTextString = "page-resize" }).Locator(".l-detail"))
            .ToContainTextAsync("[dashboard]", Contains);
    }

    [Fact]
    public async Task Page_PythonPrint_ShownInTheOutputTailAsText()
    {
        var pool = await StartAsync("page-print", size: 1);
        await pool.CallAsync<int>("dash", "say", ["<b>hi</b><script>document.title='pwned'</script>"]);
        var section = Section("page-print");

        var tail = section.Locator("pre.w-tail");
        await Expect(tail).ToHaveTextAsync("<b>hi</b><script>document.title='pwned'</script>", Text);
        Assert.Equal(0, await tail.Locator("b").CountAsync());
        Assert.Equal(0, await tail.Locator("script").CountAsync());
        Assert.Equal("Lifeguard", await _page.TitleAsync());
    }

    [Fact]
    public async Task Page_ServerDropsTheStream_ThePageReconnectsAndCatchesUp()
    {
        var pool = await StartAsync("page-drop", size: 1);
        await Expect(_page.Locator("#connection")).ToHaveTextAsync("live", Text);
        await Expect(Section("page-drop").Locator("tr.worker")).ToHaveCountAsync(1, Count);
        await TestPools.WaitUntilAsync(() => Server.Hub.ClientCount == 1, "the page is connected");

        Server.Hub.DropClients();
        await TestPools.WaitUntilAsync(() => Server.Hub.ClientCount == 0, "the stream is dropped");
        pool.Resize(2, 0, "while-away");

        // The browser reconnects with Last-Event-ID: the missed event arrives, and snapshots resume.
        await Expect(_page.Locator("#log tr.log-entry[data-kind='Resized']", new() { HasTextString = "while-away" })).ToHaveCountAsync(1, Count);
        await Expect(Section("page-drop").Locator("tr.worker")).ToHaveCountAsync(2, Count);
        await Expect(_page.Locator("#connection")).ToHaveTextAsync("live", Text);
        await TestPools.WaitUntilAsync(() => Server.Hub.ClientCount == 1, "the page is connected again");
    }

    [Fact]
    public async Task Page_ActionWithoutTheToken_403Shown_NothingDone()
    {
        var pool = await StartAsync("page-notoken", size: 1);
        var section = Section("page-notoken");
        await Expect(section.Locator("tr.worker")).ToHaveCountAsync(1, Count);
        var before = pool.GetStatus().Workers.Single().Id;

        await section.Locator("button.recycle").ClickAsync();
        await Expect(section.Locator(".action-message")).ToContainTextAsync("403", Contains);
        await section.Locator($"tr[data-worker-id='{before}'] .w-kill").ClickAsync();
        await Expect(section.Locator(".action-message")).ToContainTextAsync("kill worker", Contains);
        await Expect(section.Locator(".action-message")).ToContainTextAsync("403", Contains);

        await _page.Locator("#token").FillAsync("not-the-token");
        await section.Locator("button.recycle").ClickAsync();
        await Expect(section.Locator(".action-message")).ToContainTextAsync("recycle: 403", Contains);
        Assert.Equal(before, pool.GetStatus().Workers.Single().Id);
        Assert.Equal(0, pool.GetStatus().TotalRestarts);
    }

    [Fact]
    public async Task Page_PoolWhoseRowsAreHosts_ShowsEachHostsName_AndNoKillResizeOrRecycle()
    {
        var inner = await TestPools.StartCoreAsync(Server.Registry, "page-hosts-inner", size: 2);
        Server.Registry.Add(new HostRowsPool("page-hosts", inner));
        var section = Section("page-hosts");

        await Expect(section.Locator("td.w-id")).ToHaveTextAsync(
            inner.GetStatus().Workers.Select((w, i) => string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{w.Id} · host-{i}")), Text);
        await Expect(section.Locator(".actions")).ToBeHiddenAsync(new() { Timeout = 30_000 });
        await Expect(section.Locator("td.w-actions").First).ToBeHiddenAsync(new() { Timeout = 30_000 });
        await Expect(Section("page-hosts-inner").Locator(".actions")).ToBeVisibleAsync(new() { Timeout = 30_000 });
        await Expect(Section("page-hosts-inner").Locator("td.w-actions").First).ToBeVisibleAsync(new() { Timeout = 30_000 });
        Assert.Empty(_errors);
    }

    private ILocator Section(string pool) => _page.Locator($"section.pool[data-pool='{pool}']");

    private async Task<PythonPool> StartAsync(string name, int size, int maxOverflow = 0)
        => await TestPools.StartPythonAsync(Server.Registry, name, size, maxOverflow);
}
