using System.Globalization;
using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Mvc;

namespace Lifeguard.Samples.WebGateway;

/// <summary>
/// Answers the failures <see cref="GatewayProblems"/> knows with their status code, a problem body
/// (<c>application/problem+json</c>) and a <c>Retry-After</c> header when retrying helps; leaves any other exception
/// to the default handler (a 500 without details). Server-side failures are logged with the exception (for Python,
/// its traceback), since the client does not get it outside development. Thread-safe.
/// </summary>
public sealed class GatewayExceptionHandler(
    IProblemDetailsService problemDetails, IHostEnvironment environment, ILogger<GatewayExceptionHandler> logger) : IExceptionHandler
{
    /// <inheritdoc />
    public async ValueTask<bool> TryHandleAsync(HttpContext httpContext, Exception exception, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(httpContext);
        if (GatewayProblems.From(exception, environment.IsDevelopment()) is not { } problem)
        {
            return false;
        }

        var request = httpContext.Request;
        if (problem.Status == StatusCodes.Status503ServiceUnavailable)
        {
            GatewayLog.Unavailable(logger, request.Method, request.Path, problem.Status, exception.Message);
        }
        else if (problem.Status >= StatusCodes.Status500InternalServerError)
        {
            GatewayLog.ServerProblem(logger, exception, request.Method, request.Path, problem.Status, problem.Title);
        }

        httpContext.Response.StatusCode = problem.Status;
        if (problem.RetryAfter is { } retryAfter)
        {
            httpContext.Response.Headers.RetryAfter = Math.Ceiling(retryAfter.TotalSeconds).ToString(CultureInfo.InvariantCulture);
        }

        var details = new ProblemDetails { Status = problem.Status, Title = problem.Title, Detail = problem.Detail };
        foreach (var (key, value) in problem.Extensions)
        {
            details.Extensions[key] = value;
        }

        // The exception itself is not passed on, so that no writer can add its message or stack trace.
        return await problemDetails.TryWriteAsync(new ProblemDetailsContext { HttpContext = httpContext, ProblemDetails = details });
    }
}
