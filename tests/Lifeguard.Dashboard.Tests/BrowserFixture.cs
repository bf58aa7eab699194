using System.Diagnostics;
using Lifeguard.Testing;
using Microsoft.Playwright;

namespace Lifeguard.Dashboard.Tests;

/// <summary>
/// One headless Chromium (Debian's, at /usr/bin/chromium) for the browser tests, launched once and closed after the
/// last test; eng/install-chromium.sh installs it first when it is missing. Playwright drives it offline: its own
/// browser download is never used. Also one dashboard server with actions on, over a registry the tests add pools to.
/// </summary>
public sealed class BrowserFixture : IAsyncLifetime
{
    public const string ChromiumPath = "/usr/bin/chromium";
    public const string Token = "browser-tests-token";

    public IPlaywright Playwright { get; private set; } = null!;

    public IBrowser Browser { get; private set; } = null!;

    public DashboardServer Server { get; private set; } = null!;

    /// <summary>The repository's root (where Lifeguard.slnx is).</summary>
    public static string RepositoryRoot => Repository.Root;

    /// <summary>Where the tests save their screenshots (git-ignored).</summary>
    public static string ScreenshotFolder => Path.Combine(RepositoryRoot, "artifacts", "screenshots");

    public async Task InitializeAsync()
    {
        await EnsureChromiumAsync();
        Playwright = await Microsoft.Playwright.Playwright.CreateAsync();
        Browser = await Playwright.Chromium.LaunchAsync(new()
        {
            ExecutablePath = ChromiumPath,
            Headless = true,
            Args = ["--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"],
        });
        Server = await DashboardServer.StartAsync(options: new DashboardOptions { AllowActions = true, ActionToken = Token });
        Directory.CreateDirectory(ScreenshotFolder);
    }

    public async Task DisposeAsync()
    {
        if (Server is not null)
        {
            await Server.DisposeAsync();
        }

        if (Browser is not null)
        {
            await Browser.CloseAsync();
            await Browser.DisposeAsync();
        }

        Playwright?.Dispose();
    }

    /// <summary>A fresh page (its own context: no shared storage) on the dashboard, with its console errors collected.</summary>
    public async Task<(IBrowserContext Context, IPage Page, List<string> Errors)> OpenAsync()
    {
        var context = await Browser.NewContextAsync(new() { ViewportSize = new() { Width = 1400, Height = 1000 } });
        var page = await context.NewPageAsync();
        var errors = new List<string>();
        page.Console += (_, message) =>
        {
            if (message.Type == "error")
            {
                lock (errors)
                {
                    errors.Add(message.Text);
                }
            }
        };
        page.PageError += (_, error) =>
        {
            lock (errors)
            {
                errors.Add(error);
            }
        };
        await page.GotoAsync(Server.Page.ToString());
        return (context, page, errors);
    }

    private static async Task EnsureChromiumAsync()
    {
        if (File.Exists(ChromiumPath))
        {
            return;
        }

        var script = Path.Combine(RepositoryRoot, "eng", "install-chromium.sh");
        var start = new ProcessStartInfo(script) { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
        using var process = Process.Start(start)!;
        var stderr = process.StandardError.ReadToEndAsync();
        await process.StandardOutput.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(10));
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw;
        }

        if (process.ExitCode != 0 || !File.Exists(ChromiumPath))
        {
            throw new InvalidOperationException($"{script} could not install Chromium (exit code {process.ExitCode}): {await stderr}");
        }
    }
}

[CollectionDefinition(Name)]
public sealed class BrowserCollection : ICollectionFixture<BrowserFixture>
{
    public const string Name = "browser";
}
