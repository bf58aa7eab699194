using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Text;

namespace Lifeguard.Cli.Tests;

/// <summary>
/// The command running as a separate process, for tests that act on it while it runs: signal it, watch what it prints
/// on stderr, wait for it to exit. Disposing kills it (by its pid) if it is still running.
/// </summary>
public sealed class CliRun : IDisposable
{
    private readonly Process _process;
    private readonly Lock _lock = new();
    private readonly StringBuilder _stdout = new();
    private readonly ConcurrentQueue<string> _stderr = new();
    private readonly Task _pumps;

    private CliRun(Process process)
    {
        _process = process;
        _pumps = Task.WhenAll(
            Task.Run(async () =>
            {
                var buffer = new char[8192];
                int read;
                while ((read = await process.StandardOutput.ReadAsync(buffer)) > 0)
                {
                    lock (_lock)
                    {
                        _stdout.Append(buffer, 0, read);
                    }
                }
            }),
            Task.Run(async () =>
            {
                while (await process.StandardError.ReadLineAsync() is { } line)
                {
                    _stderr.Enqueue(line);
                }
            }));
    }

    public int Pid => _process.Id;

    public bool HasExited => _process.HasExited;

    /// <summary>What the command printed on stdout so far.</summary>
    public string Stdout
    {
        get
        {
            lock (_lock)
            {
                return _stdout.ToString();
            }
        }
    }

    /// <summary>What the command printed on stderr so far, one line break after each line.</summary>
    public string Stderr => string.Concat(_stderr.Select(l => l + "\n"));

    public static CliRun Start(params string[] args) => Start(environment: null, args);

    /// <summary>Starts the command with <paramref name="environment"/> changed: a variable set, or removed when its value is null.</summary>
    public static CliRun Start(IReadOnlyDictionary<string, string?>? environment, params string[] args)
    {
        var info = new ProcessStartInfo(Environment.ProcessPath ?? "dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        foreach (var (name, value) in environment ?? new Dictionary<string, string?>())
        {
            if (value is null)
            {
                info.Environment.Remove(name);
            }
            else
            {
                info.Environment[name] = value;
            }
        }

        info.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "Lifeguard.Cli.dll"));
        foreach (var arg in args)
        {
            info.ArgumentList.Add(arg);
        }

        var process = Process.Start(info)!;
        process.StandardInput.Close();
        return new CliRun(process);
    }

    /// <summary>Sends a signal by name (INT, TERM, KILL) to the command's pid, through kill(1) as an argv list.</summary>
    public void Signal(string name)
    {
        using var kill = Process.Start(new ProcessStartInfo("kill") { ArgumentList = { "-" + name, Pid.ToString(CultureInfo.InvariantCulture) }, UseShellExecute = false })!;
        kill.WaitForExit();
        Assert.Equal(0, kill.ExitCode);
    }

    /// <summary>Waits, up to a bound, for a line on stderr containing <paramref name="text"/>.</summary>
    public Task WaitForStderrAsync(string text) => Poll.UntilAsync(() => _stderr.Any(l => l.Contains(text, StringComparison.Ordinal)), $"stderr to say '{text}'; it said: {Stderr}");

    /// <summary>Waits, up to a bound, for stdout to contain <paramref name="text"/>.</summary>
    public Task WaitForStdoutAsync(string text) => Poll.UntilAsync(() => Stdout.Contains(text, StringComparison.Ordinal), $"stdout to say '{text}'; stderr said: {Stderr}");

    /// <summary>Waits for the exit, up to a bound (the command is killed past it), and for everything it printed.</summary>
    public async Task<int> WaitForExitAsync(TimeSpan? bound = null)
    {
        using var timeout = new CancellationTokenSource(bound ?? TimeSpan.FromSeconds(120));
        try
        {
            await _process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException e)
        {
            _process.Kill();
            throw new TimeoutException($"the command did not exit within {bound ?? TimeSpan.FromSeconds(120)}; stderr: {Stderr}", e);
        }

        await _pumps;
        return _process.ExitCode;
    }

    public void Dispose()
    {
        if (!_process.HasExited)
        {
            _process.Kill();
            _process.WaitForExit();
        }

        _process.Dispose();
    }
}

/// <summary>Polling with a bound, for conditions another process brings about.</summary>
public static class Poll
{
    public static async Task UntilAsync(Func<bool> condition, string what, int seconds = 120)
    {
        var deadline = Stopwatch.StartNew();
        while (!condition())
        {
            if (deadline.Elapsed > TimeSpan.FromSeconds(seconds))
            {
                throw new TimeoutException($"waited {seconds} s for {what}");
            }

            await Task.Delay(10);
        }
    }

    /// <summary>Waits for a process, known by its pid, to be gone (exited and reaped, or a zombie awaiting its parent).</summary>
    public static Task GoneAsync(int pid) => UntilAsync(() => !IsRunning(pid), $"process {pid} to exit", 30);

    /// <summary>A field of /proc/PID/status in bytes (VmRSS, VmHWM), or 0 once the process is gone.</summary>
    public static long StatusBytes(int pid, string field)
    {
        try
        {
            var line = File.ReadLines($"/proc/{pid}/status").FirstOrDefault(l => l.StartsWith(field + ":", StringComparison.Ordinal));
            return line is null ? 0 : long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) * 1024;
        }
        catch (IOException)
        {
            return 0;
        }
    }

    private static bool IsRunning(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            return stat[(stat.LastIndexOf(')') + 2)..].FirstOrDefault() is not ('Z' or 'X');
        }
        catch (IOException)
        {
            return false;
        }
    }
}
