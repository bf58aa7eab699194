using System.Diagnostics;
using System.Text.Json;
using Python.Runtime;

namespace Lifeguard.Benchmarks;

/// <summary>
/// The in-process baselines of <c>quick python</c>: CPython embedded in the benchmark process with pythonnet,
/// calling the same <c>benchmod</c> functions as every other contender, with no process boundary, no pipe and no
/// isolation. The interpreter is the one every other contender runs; its shared <c>libpython</c> is found through
/// <c>sysconfig</c> (<c>LIBDIR</c> and <c>INSTSONAME</c>, else <c>LDLIBRARY</c>). Where none is on disk (a
/// static build), <see cref="StartAsync"/> says why and the pythonnet figures are left out. The engine is started once per
/// process and never shut down: it ends with the process. Every call takes the GIL, as any embedding must.
/// </summary>
internal sealed class EmbeddedPython
{
    /// <summary>The reason printed in place of the pythonnet figures where no shared libpython exists.</summary>
    public const string NoSharedLibrary = "no shared libpython";

    private static readonly SemaphoreSlim Gate = new(1, 1);
    private static EmbeddedPython? _started;
    private readonly PyObject _square;
    private readonly PyObject _burn;

    private EmbeddedPython(PyObject square, PyObject burn)
    {
        _square = square;
        _burn = burn;
    }

    /// <summary>What the interpreter's <c>sysconfig</c> says of its shared library, and where its home is.</summary>
    internal sealed record Build(string? LibDir, string? InstSoName, string? LdLibrary, string Prefix)
    {
        /// <summary>
        /// The shared library's path, or <see langword="null"/> where none is on disk. Not <c>Py_ENABLE_SHARED</c>:
        /// a distribution's statically linked python3 may ship its <c>libpython</c> beside it all the same.
        /// </summary>
        public string? SharedLibrary()
        {
            if (LibDir is null)
            {
                return null;
            }

            return new[] { InstSoName, LdLibrary }
                .Where(name => !string.IsNullOrEmpty(name) && name.Contains(".so", StringComparison.Ordinal))
                .Select(name => Path.Combine(LibDir, name!))
                .FirstOrDefault(File.Exists);
        }
    }

    /// <summary>
    /// Starts the embedded interpreter (once per process) with <c>benchmod</c> importable; returns it, or
    /// <see langword="null"/> and the reason (<see cref="NoSharedLibrary"/>) where it cannot be embedded.
    /// </summary>
    public static async Task<(EmbeddedPython? Python, string? Skipped)> StartAsync()
    {
        await Gate.WaitAsync();
        try
        {
            if (_started is not null)
            {
                return (_started, null);
            }

            var build = await ReadBuildAsync(await PythonBench.InterpreterAsync());
            if (build.SharedLibrary() is not { } library)
            {
                return (null, NoSharedLibrary);
            }

            Runtime.PythonDLL = library;
            PythonEngine.PythonHome = build.Prefix;
            PythonEngine.Initialize(setSysArgv: false, initSigs: false);
            PyObject square;
            PyObject burn;
            using (Py.GIL())
            {
                using var sys = Py.Import("sys");
                using var path = sys.GetAttr("path");
                using var directory = new PyString(PythonBench.Directory);
                path.InvokeMethod("insert", new PyInt(0), directory).Dispose();
                using var module = Py.Import(PythonBench.Module);
                square = module.GetAttr(PythonRoundtripBenchmarks.Function);
                burn = module.GetAttr(PythonScalingBenchmarks.Function);
            }

            // The GIL is released here for good: every call below takes it on its own thread.
            PythonEngine.BeginAllowThreads();
            _started = new EmbeddedPython(square, burn);
            return (_started, null);
        }
        finally
        {
            Gate.Release();
        }
    }

    /// <summary><c>square(x)</c> under the GIL, the argument converted and the result read back as a .NET int.</summary>
    public int Square(int x)
    {
        using (Py.GIL())
        {
            using var argument = new PyInt(x);
            using var result = _square.Invoke(argument);
            return result.As<int>();
        }
    }

    /// <summary>Times <paramref name="calls"/> sequential <see cref="Square"/> calls one by one; the median nanoseconds per call.</summary>
    public double MedianSquareNs(int calls, int x)
    {
        var samples = new double[calls];
        for (var i = 0; i < calls; i++)
        {
            long start = Stopwatch.GetTimestamp();
            _ = Square(x);
            samples[i] = PythonBench.NsSince(start);
        }

        return Statistics.Median(samples);
    }

    /// <summary>
    /// <paramref name="calls"/> calls of <c>burn(n)</c> shared by <paramref name="threads"/> threads of this process,
    /// each taking the GIL per call; nanoseconds per call.
    /// </summary>
    public double BurnPerCallNs(int threads, int calls, int n)
    {
        long start = Stopwatch.GetTimestamp();
        var workers = new Thread[threads];
        for (var t = 0; t < threads; t++)
        {
            int share = (calls / threads) + (t < calls % threads ? 1 : 0);
            workers[t] = new Thread(() => Burn(share, n)) { IsBackground = true, Name = "pythonnet-burn" };
            workers[t].Start();
        }

        foreach (var worker in workers)
        {
            worker.Join();
        }

        return PythonBench.NsSince(start) / calls;
    }

    private void Burn(int calls, int n)
    {
        for (var i = 0; i < calls; i++)
        {
            using (Py.GIL())
            {
                using var argument = new PyInt(n);
                _burn.Invoke(argument).Dispose();
            }
        }
    }

    /// <summary>Asks the interpreter, once, what <c>sysconfig</c> knows of its build.</summary>
    private static async Task<Build> ReadBuildAsync(string interpreter)
    {
        var info = new ProcessStartInfo(interpreter) { RedirectStandardOutput = true, UseShellExecute = false };
        info.ArgumentList.Add("-c");
        info.ArgumentList.Add(
            "import json, sys, sysconfig; v = sysconfig.get_config_var; print(json.dumps({"
            + "'libdir': v('LIBDIR'), 'instsoname': v('INSTSONAME'), 'ldlibrary': v('LDLIBRARY'), 'prefix': sys.base_prefix}))");
        using var process = Process.Start(info) ?? throw new InvalidOperationException($"Could not start {interpreter}.");
        string output = await process.StandardOutput.ReadToEndAsync();
        await process.WaitForExitAsync();
        using var document = JsonDocument.Parse(output);
        var root = document.RootElement;
        return new Build(
            root.GetProperty("libdir").GetString(),
            root.GetProperty("instsoname").GetString(),
            root.GetProperty("ldlibrary").GetString(),
            root.GetProperty("prefix").GetString() ?? "");
    }
}
