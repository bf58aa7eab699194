using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;
using Lifeguard.Python;
using Spectre.Console;

namespace Lifeguard.Cli;

/// <summary>
/// Forwards the function's own output (the workers' <c>print</c>, fd 1 and fd 2) to the command's stderr, one line at
/// a time as <c>[pid 12345] text</c>, never to the results. At most <see cref="LinesPerSecond"/> lines are shown in each
/// second; past that they are counted, and the count is reported once the second is over
/// (<c>[lifeguard] 2,345 lines of worker output not shown (over 100 lines/s)</c>). While a progress display runs, lines
/// go through its console (<see cref="Console"/>), which prints them above the live area. Thread-safe: workers'
/// output threads call <see cref="Write"/> concurrently; one lock orders every line and report.
/// </summary>
internal sealed partial class RunOutputForwarder : IDisposable
{
    public const int LinesPerSecond = 100;
    private static readonly TimeSpan Window = TimeSpan.FromSeconds(1);
    private readonly Lock _lock = new();
    private readonly TextWriter _error;
    private readonly TimeProvider _time;
    private readonly ITimer _timer;
    private long _windowStart;
    private int _shownInWindow;
    private long _pending;
    private long _suppressed;
    private int _reports;
    private bool _completed;
    private IAnsiConsole? _console;

    public RunOutputForwarder(TextWriter error, TimeProvider time)
    {
        _error = error;
        _time = time;
        _windowStart = time.GetTimestamp();

        // Reports a count when the output stops mid-burst; otherwise the next line past the second reports it.
        _timer = time.CreateTimer(_ => Tick(), null, TimeSpan.FromMilliseconds(250), TimeSpan.FromMilliseconds(250));
    }

    /// <summary>The console of the progress display while it runs; <see langword="null"/> writes to stderr directly.</summary>
    public IAnsiConsole? Console
    {
        set
        {
            lock (_lock)
            {
                _console = value;
            }
        }
    }

    /// <summary>Lines counted and not shown so far.</summary>
    public long Suppressed
    {
        get
        {
            lock (_lock)
            {
                return _suppressed;
            }
        }
    }

    /// <summary>The <see cref="PythonPoolOptions.OnOutput"/> handler.</summary>
    public void Write(PythonOutputLine line)
    {
        lock (_lock)
        {
            long now = _time.GetTimestamp();
            if (_time.GetElapsedTime(_windowStart, now) >= Window)
            {
                ReportLocked();
                _windowStart = now;
                _shownInWindow = 0;
            }

            if (_shownInWindow < LinesPerSecond)
            {
                _shownInWindow++;
                EmitLocked(string.Create(CultureInfo.InvariantCulture, $"[pid {line.ProcessId}] {line.Text}"));
            }
            else
            {
                _pending++;
                _suppressed++;
            }
        }
    }

    /// <summary>A line of the command's own (not rate-limited), in order with the forwarded lines and above a progress display.</summary>
    public void Say(string text)
    {
        lock (_lock)
        {
            EmitLocked(text);
        }
    }

    /// <summary>
    /// Reports what is still counted, and the total when it was reported in several parts; once. Call when the workers
    /// have stopped, so that their last lines come first.
    /// </summary>
    public void Complete()
    {
        _timer.Dispose();
        lock (_lock)
        {
            if (_completed)
            {
                return;
            }

            _completed = true;
            ReportLocked();
            if (_reports > 1)
            {
                EmitLocked(string.Create(CultureInfo.InvariantCulture, $"[lifeguard] {Lines(_suppressed)} of worker output not shown in all"));
            }
        }
    }

    public void Dispose() => _timer.Dispose();

    private static string Lines(long count) => string.Create(CultureInfo.InvariantCulture, $"{count:N0} {(count == 1 ? "line" : "lines")}");

    private void Tick()
    {
        lock (_lock)
        {
            long now = _time.GetTimestamp();
            if (_pending > 0 && _time.GetElapsedTime(_windowStart, now) >= Window)
            {
                ReportLocked();
                _windowStart = now;
                _shownInWindow = 0;
            }
        }
    }

    private void ReportLocked()
    {
        if (_pending == 0)
        {
            return;
        }

        EmitLocked(string.Create(CultureInfo.InvariantCulture, $"[lifeguard] {Lines(_pending)} of worker output not shown (over {LinesPerSecond} lines/s)"));
        _pending = 0;
        _reports++;
    }

    private void EmitLocked(string text)
    {
        if (_console is { } console)
        {
            // One renderable with its line break: the live display redraws itself below it once, not mid-line.
            console.Write(new Text(ForTerminal(text) + "\n"));
        }
        else
        {
            _error.WriteLine(text);
        }
    }

    /// <summary>
    /// The line without escape sequences or control characters, which would move the cursor inside the live display
    /// or garble it; tabs become spaces. Only on a terminal: redirected stderr gets the bytes the function wrote.
    /// </summary>
    private static string ForTerminal(string text)
    {
        text = EscapeSequence().Replace(text, "");
        if (!text.Any(char.IsControl))
        {
            return text;
        }

        var clean = new StringBuilder(text.Length);
        foreach (char c in text)
        {
            if (c == '\t')
            {
                clean.Append("    ");
            }
            else
            {
                clean.Append(char.IsControl(c) ? '\uFFFD' : c);
            }
        }

        return clean.ToString();
    }

    /// <summary>CSI (<c>ESC [ … final</c>) and OSC (<c>ESC ] … BEL or ESC \</c>) sequences, and other two-character escapes.</summary>
    [GeneratedRegex(@"\x1B(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1B]*(?:\x07|\x1B\\)?|[@-Z\\-_])", RegexOptions.CultureInvariant)]
    private static partial Regex EscapeSequence();
}
