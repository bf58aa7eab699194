using System.Text.Json;
using Lifeguard.Python;

namespace Lifeguard.Samples.WebGateway;

/// <summary>
/// How a failure of the pool or of the Python code reaches a client: a status code, a problem's title and detail,
/// and when to retry. Outside development, details stay generic, except the optimiser's own validation messages,
/// which are written for the client; in development the exception's message, Python type and traceback are added.
/// </summary>
public static class GatewayProblems
{
    /// <summary>The wait advised after a checkout timed out or was rejected: the pool was momentarily full.</summary>
    public static readonly TimeSpan BusyRetryAfter = TimeSpan.FromSeconds(1);

    /// <summary>The wait advised when the pool cannot start workers or is stopping.</summary>
    public static readonly TimeSpan UnavailableRetryAfter = TimeSpan.FromSeconds(5);

    /// <summary>The problem for <paramref name="exception"/>, or <see langword="null"/> when it is not one of these.</summary>
    /// <param name="exception">What the request failed with.</param>
    /// <param name="development">Whether to add the exception's message and, for Python, its type and traceback.</param>
    public static GatewayProblem? From(Exception exception, bool development)
    {
        ArgumentNullException.ThrowIfNull(exception);
        var problem = exception switch
        {
            // Minimal APIs throw it for a body that is not JSON or not of the request's shape (RouteHandlerOptions.ThrowOnBadRequest).
            BadHttpRequestException { StatusCode: StatusCodes.Status400BadRequest } e => new GatewayProblem(
                StatusCodes.Status400BadRequest,
                "The request is not a delivery batch",
                e.InnerException is JsonException { Path: { } path, LineNumber: { } line }
                    ? $"The body could not be read as a delivery batch: JSON path {path}, line {line + 1}."
                    : "The body could not be read as a delivery batch."),
            BadHttpRequestException e => new GatewayProblem(e.StatusCode, "The request could not be read", "The request could not be read."),

            // The pool was full: every worker busy at Size + MaxOverflow, for CheckoutTimeout, or MaxWaiters queued.
            PoolTimeoutException or PoolRejectedException => new GatewayProblem(
                StatusCodes.Status503ServiceUnavailable,
                "The optimiser is busy",
                "Every optimiser worker is busy; retry shortly.")
            {
                RetryAfter = BusyRetryAfter,
            },
            PoolBackoffException or WorkerStartException or PythonStartException or PoolStoppedException => new GatewayProblem(
                StatusCodes.Status503ServiceUnavailable,
                "The optimiser is unavailable",
                "The optimiser's workers cannot be started right now, or the gateway is stopping; retry later.")
            {
                RetryAfter = UnavailableRetryAfter,
            },

            // The optimiser raises ValueError, with a message naming the offending delivery or field, for a batch
            // it cannot plan: the client's to fix. Any other Python error is the optimiser's fault.
            PythonException { PythonType: "ValueError" } e => new GatewayProblem(
                StatusCodes.Status422UnprocessableEntity, "The optimiser cannot plan this batch", e.PythonMessage),
            PythonException => new GatewayProblem(
                StatusCodes.Status500InternalServerError, "The optimiser failed", "The optimiser raised an error."),
            PythonCallTimeoutException => new GatewayProblem(
                StatusCodes.Status504GatewayTimeout, "The optimiser took too long", "The plan was not ready in time."),
            PythonWorkerCrashedException => new GatewayProblem(
                StatusCodes.Status502BadGateway,
                "The optimiser crashed",
                "The optimiser's process died while planning; it has been replaced."),
            PythonSerializationException => new GatewayProblem(
                StatusCodes.Status500InternalServerError, "The optimiser's plan could not be read", "The plan has an unexpected shape."),
            _ => null,
        };
        return problem is null || !development ? problem : problem with { Extensions = Details(exception) };
    }

    private static Dictionary<string, object?> Details(Exception exception)
    {
        var details = new Dictionary<string, object?>(StringComparer.Ordinal)
        {
            ["exception"] = exception.GetType().Name,
            ["message"] = exception.Message,
        };
        if (exception is PythonException python)
        {
            details["pythonType"] = python.PythonType;
            details["traceback"] = python.PythonTraceback;
        }
        else if (exception is PythonWorkerCrashedException crash)
        {
            details["exitCode"] = crash.ExitCode;
            details["stderrTail"] = crash.StderrTail;
        }

        return details;
    }
}

/// <summary>A problem to answer with (RFC 9457): the status code, its title and detail, and extension members.</summary>
/// <param name="Status">The HTTP status code.</param>
/// <param name="Title">A short summary of the kind of problem.</param>
/// <param name="Detail">What happened to this request.</param>
public sealed record GatewayProblem(int Status, string Title, string Detail)
{
    /// <summary>When to retry, sent as the <c>Retry-After</c> header; <see langword="null"/> when retrying will not help.</summary>
    public TimeSpan? RetryAfter { get; init; }

    /// <summary>Extension members of the problem; only filled in development.</summary>
    public IReadOnlyDictionary<string, object?> Extensions { get; init; } = new Dictionary<string, object?>(StringComparer.Ordinal);
}
