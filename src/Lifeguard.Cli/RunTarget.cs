using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;
using Lifeguard.Python;

namespace Lifeguard.Cli;

/// <summary>
/// Starts <c>run</c>'s pool with FILE loaded under a private module name, and checks FUNCTION, before any input is read:
/// whatever fails here (FILE does not load, FUNCTION is not one of its callables, the workers do not start) is one line
/// and exit code 2, with nothing read or written. Stateless.
/// </summary>
internal static partial class RunTarget
{
    /// <summary>The module name FILE is loaded under: never a name the file or its imports could clash with.</summary>
    public const string ModuleName = "_lifeguard_run_main";

    /// <summary>The module name of the check, <c>python/lifeguard_run.py</c> beside the command.</summary>
    public const string CheckModuleName = "_lifeguard_run_check";

    private const int MaxNamesListed = 12;

    public static string CheckFile => Path.Combine(AppContext.BaseDirectory, "python", "lifeguard_run.py");

    /// <summary>
    /// The started pool and whether FUNCTION is a generator function, or <see langword="null"/> when the failure has
    /// been reported on <paramref name="error"/>.
    /// </summary>
    public static async Task<(PythonPool Pool, bool Generator)?> StartAsync(RunSettings settings, RunOutputForwarder output, TextWriter error, CancellationToken cancellationToken)
    {
        var options = settings.PoolOptions();
        if (!settings.Quiet)
        {
            options.OnOutput = output.Write;
        }

        string file = Path.GetFileName(settings.Target.File);
        PythonPool pool;
        try
        {
            pool = await PythonPool.StartAsync(options, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is LifeguardException)
        {
            output.Complete();
            await error.WriteLineAsync(StartFailure(settings.Target.File, e)).ConfigureAwait(false);
            return null;
        }

        string? problem;
        bool generator = false;
        try
        {
            var answer = await pool.CallAsync(CheckModuleName, "check", [ModuleName, settings.Target.Function], cancellationToken: cancellationToken).ConfigureAwait(false);
            generator = answer.ValueKind == JsonValueKind.Object && answer.TryGetProperty("generator"u8, out var flag) && flag.ValueKind == JsonValueKind.True;
            problem = answer.ValueKind == JsonValueKind.Null || generator ? null : NotCallable(file, settings.Target.Function, answer);
        }
        catch (OperationCanceledException)
        {
            await pool.DisposeAsync().ConfigureAwait(false); // interrupted while checking
            output.Complete();
            throw;
        }
        catch (Exception e) when (e is LifeguardException)
        {
            problem = $"lifeguard run: could not check {file}:{settings.Target.Function}: {OneLine(e.Message)}";
        }

        if (problem is not null)
        {
            await pool.DisposeAsync().ConfigureAwait(false);
            output.Complete();
            await error.WriteLineAsync(problem).ConfigureAwait(false);
            return null;
        }

        return (pool, generator);
    }

    /// <summary>
    /// <c>work.py cannot be loaded: SyntaxError: invalid syntax (work.py, line 3)</c>; for other errors raised while
    /// FILE ran, the innermost line of FILE in the traceback is named the same way.
    /// </summary>
    internal static string StartFailure(string path, Exception e)
    {
        var start = e as PythonStartException ?? e.InnerException as PythonStartException;
        if (start?.PythonType is not { } type)
        {
            return $"lifeguard run: the Python workers could not start: {(e.InnerException ?? e).Message}";
        }

        var message = OneLine(start.PythonMessage ?? "");
        string file = Path.GetFileName(path);
        string where = "";
        if (!message.Contains($"({file}, line ", StringComparison.Ordinal))
        {
            var line = TracebackFrame().Matches(start.PythonTraceback ?? "")
                .LastOrDefault(m => string.Equals(m.Groups["file"].Value, path, StringComparison.Ordinal));
            where = line is null ? "" : $" ({file}, line {line.Groups["line"].Value})";
        }

        return $"lifeguard run: {file} cannot be loaded: {type}: {message}{where}";
    }

    /// <summary><c>work.py defines no function 'wrok'; it defines: work, worker_setup, main</c>.</summary>
    internal static string NotCallable(string file, string function, JsonElement answer)
    {
        var names = answer.GetProperty("defines").EnumerateArray().Select(n => n.GetString()!).ToList();
        string listing = names.Count == 0
            ? "it defines no public function or class"
            : "it defines: " + string.Join(", ", names.Take(MaxNamesListed))
                + (names.Count > MaxNamesListed ? string.Create(CultureInfo.InvariantCulture, $" and {names.Count - MaxNamesListed} more") : "");
        return answer.GetProperty("found").GetBoolean()
            ? $"lifeguard run: '{function}' in {file} is not callable (it is of type {answer.GetProperty("type").GetString()}); {listing}"
            : $"lifeguard run: {file} defines no function '{function}'; {listing}";
    }

    private static string OneLine(string text) => string.Join(' ', text.Split('\n', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries));

    /// <summary>A frame of a Python traceback: <c>  File "/path/work.py", line 3, in &lt;module&gt;</c>.</summary>
    [GeneratedRegex("""^\s*File "(?<file>[^"\n]+)", line (?<line>\d+)""", RegexOptions.Multiline | RegexOptions.CultureInvariant)]
    private static partial Regex TracebackFrame();
}
