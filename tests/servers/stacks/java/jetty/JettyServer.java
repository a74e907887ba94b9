// Embedded Jetty 9.4 (Debian libjetty9-java / libjetty9-extra-java) with JSR-356 (javax.websocket)
// endpoints, compiled and started by run_jetty.py.  Usage: java JettyServer PORT (0 = any).
// /ws    : origin check through ServerEndpointConfig.Configurator.checkOrigin (only
//          http://allowed.example); /proto: only subprotocol chat.v2; /: a plain servlet page.
import java.io.IOException;
import java.util.List;
import javax.servlet.http.HttpServlet;
import javax.servlet.http.HttpServletRequest;
import javax.servlet.http.HttpServletResponse;
import javax.websocket.OnMessage;
import javax.websocket.server.ServerEndpoint;
import javax.websocket.server.ServerEndpointConfig;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import org.eclipse.jetty.servlet.ServletContextHandler;
import org.eclipse.jetty.servlet.ServletHolder;
import org.eclipse.jetty.websocket.jsr356.server.deploy.WebSocketServerContainerInitializer;

public class JettyServer {

    public static class OriginCheck extends ServerEndpointConfig.Configurator {
        @Override
        public boolean checkOrigin(String originHeaderValue) {
            return "http://allowed.example".equals(originHeaderValue);
        }
    }

    @ServerEndpoint(value = "/ws", configurator = OriginCheck.class)
    public static class Echo {
        @OnMessage
        public String echo(String message) {
            return message;
        }
    }

    @ServerEndpoint(value = "/proto", subprotocols = {"chat.v2"})
    public static class Proto {
        @OnMessage
        public String echo(String message) {
            return message;
        }
    }

    public static class Home extends HttpServlet {
        @Override
        protected void doGet(HttpServletRequest req, HttpServletResponse resp) throws IOException {
            req.getSession(true);
            resp.setContentType("text/plain");
            resp.getWriter().write("jetty test page\n");
        }
    }

    public static void main(String[] args) throws Exception {
        Server server = new Server();
        ServerConnector connector = new ServerConnector(server);
        connector.setHost("127.0.0.1");
        connector.setPort(args.length > 0 ? Integer.parseInt(args[0]) : 0);
        server.addConnector(connector);
        ServletContextHandler context = new ServletContextHandler(ServletContextHandler.SESSIONS);
        context.setContextPath("/");
        context.addServlet(new ServletHolder(new Home()), "/");
        server.setHandler(context);
        WebSocketServerContainerInitializer.configure(context, (servletContext, container) -> {
            container.addEndpoint(Echo.class);
            container.addEndpoint(Proto.class);
        });
        server.start();
        System.out.println("PORT " + connector.getLocalPort());
        System.out.flush();
        server.join();
    }
}
