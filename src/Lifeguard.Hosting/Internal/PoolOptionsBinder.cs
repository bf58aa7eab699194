using System.Globalization;
using Lifeguard.Python;
using Microsoft.Extensions.Configuration;

namespace Lifeguard.Hosting.Internal;

/// <summary>
/// Reads a pool's configuration section into its options, setting by setting, without reflection (so the package
/// stays trimming- and AOT-safe, and services such as the logger factory are never "bound"). A key that is not a
/// setting, or a value that does not parse, throws naming the key and the value: a typo fails the start instead of
/// being ignored. Stateless.
/// </summary>
internal static class PoolOptionsBinder
{
    public static void Bind(IConfigurationSection section, PoolOptions options)
    {
        foreach (var child in section.GetChildren())
        {
            if (!BindPool(child, options) && !(options is PythonPoolOptions python && BindPython(child, python)))
            {
                throw new InvalidOperationException(
                    $"Configuration key '{child.Path}' is not a setting of a {options.GetType().Name}.");
            }
        }
    }

    private static bool BindPool(IConfigurationSection s, PoolOptions o)
    {
        switch (s.Key.ToUpperInvariant())
        {
            case "NAME": break; // The pool's name is its key; see PoolServices.AddOptions.
            case "SIZE": o.Size = Int(s); break;
            case "MAXOVERFLOW": o.MaxOverflow = Int(s); break;
            case "STRATEGY": o.Strategy = Parse(s, v => Enum.Parse<PoolStrategy>(v, ignoreCase: true)); break;
            case "CHECKOUTTIMEOUT": o.CheckoutTimeout = Time(s); break;
            case "MAXWAITERS": o.MaxWaiters = Nullable(s, Int); break;
            case "OVERFLOWIDLETIMEOUT": o.OverflowIdleTimeout = Time(s); break;
            case "MAXRESTARTS": o.MaxRestarts = Nullable(s, Int); break;
            case "RESTARTWINDOW": o.RestartWindow = Time(s); break;
            case "BACKOFFINITIALDELAY": o.BackoffInitialDelay = Time(s); break;
            case "BACKOFFMAXDELAY": o.BackoffMaxDelay = Time(s); break;
            case "MAXUSESPERWORKER": o.MaxUsesPerWorker = Nullable(s, Int); break;
            case "MAXUSESJITTER": o.MaxUsesJitter = Int(s); break;
            case "MAXWORKERLIFETIME": o.MaxWorkerLifetime = Nullable(s, Time); break;
            case "MAXWORKERLIFETIMEVARIANCE": o.MaxWorkerLifetimeVariance = Parse(s, v => double.Parse(v, CultureInfo.InvariantCulture)); break;
            case "RANDOMSEED": o.RandomSeed = Nullable(s, Int); break;
            case "LEAKDETECTIONTHRESHOLD": o.LeakDetectionThreshold = Nullable(s, Time); break;
            case "IDLECHECKAFTER": o.IdleCheckAfter = Nullable(s, Time); break;
            case "IDLECHECKTIMEOUT": o.IdleCheckTimeout = Time(s); break;
            case "DRAINTIMEOUT": o.DrainTimeout = Time(s); break;
            default: return false;
        }

        return true;
    }

    private static bool BindPython(IConfigurationSection s, PythonPoolOptions o)
    {
        switch (s.Key.ToUpperInvariant())
        {
            case "PYTHONPATH": o.PythonPath = s.Value; break;
            case "VIRTUALENVIRONMENT": o.VirtualEnvironment = s.Value; break;
            case "MODULEPATHS": AddAll(s, o.ModulePaths); break;
            case "APPENDEDMODULEPATHS": AddAll(s, o.AppendedModulePaths); break;
            case "MODULEFILES":
                foreach (var file in s.GetChildren())
                {
                    o.ModuleFiles[file.Key] = file.Value ?? "";
                }

                break;
            case "PRELOAD": AddAll(s, o.Preload); break;
            case "INITFUNCTION": o.InitFunction = s.Value; break;
            case "WORKINGDIRECTORY": o.WorkingDirectory = s.Value; break;
            case "ENVIRONMENTALLOWLIST": AddAll(s, o.EnvironmentAllowlist ??= new HashSet<string>(StringComparer.Ordinal)); break;
            case "ENVIRONMENT":
                foreach (var variable in s.GetChildren())
                {
                    o.Environment[variable.Key] = variable.Value;
                }

                break;
            case "STARTTIMEOUT": o.StartTimeout = Time(s); break;
            case "CALLTIMEOUT": o.CallTimeout = Time(s); break;
            case "CANCELGRACEPERIOD": o.CancelGracePeriod = Time(s); break;
            case "MAXFRAMESIZE": o.MaxFrameSize = Int(s); break;
            case "SHAREDMEMORYTHRESHOLD": o.SharedMemoryThreshold = Int(s); break;
            case "ALLOWNAMEDFLOATINGPOINTLITERALS": o.AllowNamedFloatingPointLiterals = Parse(s, bool.Parse); break;
            case "ALLOWEDMODULES": AddAll(s, o.AllowedModules ??= new HashSet<string>(StringComparer.Ordinal)); break;
            case "MAXRETRIES": o.MaxRetries = Int(s); break;
            case "MAXWORKERMEMORY": o.MaxWorkerMemory = Nullable(s, c => Parse(c, v => long.Parse(v, CultureInfo.InvariantCulture))); break;
            case "STDERRTAILLINES": o.StderrTailLines = Int(s); break;
            case "INCLUDEARGUMENTSINERRORS": o.IncludeArgumentsInErrors = Parse(s, bool.Parse); break;
            default: return false;
        }

        return true;
    }

    /// <summary>Adds a list (<c>"ModulePaths": ["a", "b"]</c>, children 0, 1, ...) or a single value.</summary>
    private static void AddAll(IConfigurationSection s, ICollection<string> target)
    {
        if (s.Value is { } single)
        {
            target.Add(single);
        }

        foreach (var item in s.GetChildren())
        {
            if (item.Value is { } value)
            {
                target.Add(value);
            }
        }
    }

    private static int Int(IConfigurationSection s) => Parse(s, v => int.Parse(v, NumberStyles.Integer, CultureInfo.InvariantCulture));

    /// <summary>A time span as <c>"00:00:05"</c>, or <c>"-00:00:00.001"</c> / <c>"Infinite"</c> for no limit.</summary>
    private static TimeSpan Time(IConfigurationSection s)
        => Parse(s, v => string.Equals(v, "Infinite", StringComparison.OrdinalIgnoreCase)
            ? Timeout.InfiniteTimeSpan
            : TimeSpan.Parse(v, CultureInfo.InvariantCulture));

    /// <summary>An empty value means <see langword="null"/> (no limit).</summary>
    private static T? Nullable<T>(IConfigurationSection s, Func<IConfigurationSection, T> parse)
        where T : struct
        => string.IsNullOrEmpty(s.Value) ? null : parse(s);

    private static T Parse<T>(IConfigurationSection s, Func<string, T> parse)
    {
        var value = s.Value ?? string.Empty;
        try
        {
            return parse(value);
        }
        catch (Exception e) when (e is FormatException or OverflowException or ArgumentException)
        {
            throw new InvalidOperationException($"Configuration value '{value}' at '{s.Path}' is not a valid {typeof(T).Name}: {e.Message}", e);
        }
    }
}
