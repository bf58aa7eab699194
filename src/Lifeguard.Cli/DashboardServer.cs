using System.Buffers.Text;
using System.CommandLine;
using System.Globalization;
using System.Net;
using System.Security.Cryptography;
using Lifeguard.Dashboard;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Lifeguard.Cli;

/// <summary>What <c>--dashboard</c>, <c>--dashboard-address</c> and <c>--dashboard-actions</c> asked for. Immutable.</summary>
/// <param name="Address">Where to listen; port 0 for a free one.</param>
/// <param name="Actions">Whether the page may kill, resize and recycle, with a token.</param>
internal sealed record DashboardRequest(IPEndPoint Address, bool Actions)
{
    /// <summary>The prefix the dashboard is mapped at.</summary>
    public const string Prefix = "/lifeguard";
}

/// <summary>The dashboard's three options, shared by <c>run</c> and <c>demo</c>. Stateless once created.</summary>
internal sealed class DashboardArguments
{
    private readonly Option<bool> _dashboard;
    private readonly Option<string?> _address;
    private readonly Option<bool> _actions;

    public DashboardArguments(string lifetime)
    {
        _dashboard = new Option<bool>("--dashboard")
        {
            Description = $"Serve the live dashboard of the pool on 127.0.0.1, at a free port, {lifetime}; its address is printed on stderr.",
        };
        _address = new Option<string?>("--dashboard-address")
        {
            Description = "Where the dashboard listens, HOST:PORT: an IP address or localhost, and a port (0 for a free one). Implies --dashboard. "
                + "Off loopback, whoever can reach it sees pids, function names and what the workers print.",
        };
        _actions = new Option<bool>("--dashboard-actions")
        {
            Description = "Let the page kill workers, resize and recycle the pool; each action needs the token printed on stderr. Implies --dashboard.",
        };
    }

    /// <summary>The three options, for a command that refuses them in some uses.</summary>
    public IReadOnlyList<Option> Options => [_dashboard, _address, _actions];

    public void AddTo(Command command)
    {
        command.Add(_dashboard);
        command.Add(_address);
        command.Add(_actions);
    }

    /// <summary>The request, or <see langword="null"/> when no dashboard was asked for.</summary>
    /// <exception cref="UsageException">The address is not HOST:PORT.</exception>
    public DashboardRequest? Get(ParseResult parse)
    {
        var address = parse.GetValue(_address);
        bool actions = parse.GetValue(_actions);
        if (!parse.GetValue(_dashboard) && address is null && !actions)
        {
            return null;
        }

        return new DashboardRequest(address is null ? new IPEndPoint(IPAddress.Loopback, 0) : ParseAddress(address), actions);
    }

    /// <summary><c>127.0.0.1:8080</c>, <c>[::1]:8080</c>, <c>0.0.0.0:0</c>, <c>localhost:8080</c>.</summary>
    internal static IPEndPoint ParseAddress(string text)
    {
        int colon = text.LastIndexOf(':');
        var host = colon > 0 ? text[..colon] : "";
        var port = colon > 0 ? text[(colon + 1)..] : "";
        if (host.Length > 2 && host[0] == '[' && host[^1] == ']')
        {
            host = host[1..^1];
        }
        else if (host.Contains(':', StringComparison.Ordinal))
        {
            host = ""; // an IPv6 address needs its brackets, or its last group reads as the port
        }

        IPAddress? ip = string.Equals(host, "localhost", StringComparison.OrdinalIgnoreCase) ? IPAddress.Loopback : null;
        if ((ip is null && !IPAddress.TryParse(host, out ip))
            || !int.TryParse(port, NumberStyles.None, CultureInfo.InvariantCulture, out int number)
            || number > IPEndPoint.MaxPort)
        {
            throw new UsageException(
                $"--dashboard-address '{text}' is not HOST:PORT, with HOST an IP address or localhost ([::1] for IPv6) and PORT from 0 (a free one) to 65535.");
        }

        return new IPEndPoint(ip, number);
    }
}

/// <summary>
/// The dashboard of a command's pools on Kestrel, for as long as the command wants it: nothing read from the
/// current folder's configuration, nothing logged but the dashboard's own warnings (its audit of actions) and
/// errors, each one line through <c>say</c>. Disposing stops the server; the pools are the caller's.
/// </summary>
internal sealed class DashboardServer : IAsyncDisposable
{
    private readonly WebApplication _app;

    private DashboardServer(WebApplication app, Uri page, string? token)
    {
        _app = app;
        Page = page;
        Token = token;
    }

    /// <summary>The page, e.g. <c>http://127.0.0.1:40123/lifeguard/</c>.</summary>
    public Uri Page { get; }

    /// <summary>The action token, when actions are on.</summary>
    public string? Token { get; }

    /// <summary>Starts the server on <paramref name="request"/>'s address, over <paramref name="registry"/>.</summary>
    /// <exception cref="UsageException">It cannot listen there (in use, not an address of this machine, not allowed).</exception>
    public static async Task<DashboardServer> StartAsync(DashboardRequest request, PoolRegistry registry, Action<string> say, CancellationToken cancellationToken)
    {
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions
        {
            ContentRootPath = AppContext.BaseDirectory,
            EnvironmentName = "Production",
        });
        builder.Configuration.Sources.Clear(); // no appsettings.json or ASPNETCORE_* variables: the options are the command line
        builder.Logging.ClearProviders()
            .AddFilter((category, level) => level >= (category?.StartsWith("Lifeguard", StringComparison.Ordinal) == true ? LogLevel.Warning : LogLevel.Error))
            .AddProvider(new SayLoggerProvider(say));
        builder.WebHost.UseKestrel(kestrel => kestrel.Listen(request.Address));

        // Not ConsoleLifetime: it would take SIGINT and SIGTERM, and stop the page, from the command that handles them.
        builder.Services.AddSingleton<IHostLifetime, CommandLifetime>();
        var app = builder.Build();
        string? token = request.Actions ? Base64Url.EncodeToString(RandomNumberGenerator.GetBytes(24)) : null;
        app.MapLifeguardDashboard(DashboardRequest.Prefix, new DashboardOptions { Registry = registry, AllowActions = request.Actions, ActionToken = token });
        try
        {
            await app.StartAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException or System.Net.Sockets.SocketException)
        {
            await app.DisposeAsync().ConfigureAwait(false);
            throw new UsageException($"the dashboard cannot listen on {Format(request.Address)}: {e.Message}");
        }

        var bound = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        return new DashboardServer(app, new Uri(bound.TrimEnd('/') + DashboardRequest.Prefix + "/"), token);
    }

    /// <summary>Prints the page's address, and the token on the next line when actions are on.</summary>
    public void Announce(Action<string> say)
    {
        say("dashboard: " + Page);
        if (Token is not null)
        {
            say("dashboard token: " + Token);
        }
    }

    public async ValueTask DisposeAsync()
    {
        // The open event streams are ended as the application stops (MapLifeguardDashboard), so this is quick.
        await _app.StopAsync(CancellationToken.None).ConfigureAwait(false);
        await _app.DisposeAsync().ConfigureAwait(false);
    }

    private static string Format(IPEndPoint endpoint) => endpoint.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6
        ? $"[{endpoint.Address}]:{endpoint.Port}"
        : endpoint.ToString();

    /// <summary>The server starts and stops when the command says, and never on a signal.</summary>
    private sealed class CommandLifetime : IHostLifetime
    {
        public Task WaitForStartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }

    /// <summary>Each log message as one line, <c>dashboard: …</c>; exceptions by their message only.</summary>
    private sealed class SayLoggerProvider(Action<string> say) : ILoggerProvider, ILogger
    {
        public ILogger CreateLogger(string categoryName) => this;

        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel != LogLevel.None;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            var text = formatter(state, exception);
            text = text.StartsWith("Dashboard", StringComparison.Ordinal) ? "d" + text[1..] : "dashboard: " + text;
            say(exception is null ? text : $"{text} ({exception.GetType().Name}: {exception.Message})");
        }

        public void Dispose()
        {
        }
    }
}
