package io.github.arelu.internal;

import java.util.Iterator;

import org.bytedeco.javacpp.Pointer;
import org.bytedeco.javacpp.PointerScope;

/**
 * JavaCPP {@link PointerScope} handling in one place: handing a result out of an inner scope, and
 * handles that no scope frees.
 *
 * <p>Why: every native object JavaCPP allocates attaches itself to the innermost open scope and is freed
 * when that scope closes. Library code opens its own scope so intermediates are freed at once, but must
 * hand its result to the caller's scope, and must keep objects that outlive the call (saved tensors, hooks,
 * static helpers) away from whatever scope the caller happens to have open.
 */
public final class Scopes {

    private Scopes() {
    }

    /**
     * Hands {@code result} from {@code inner} to the scope the caller created it in (the next enclosing scope
     * that accepts it), as if it had been made there; with no enclosing scope the garbage collector owns it,
     * as for any object made outside a scope. Everything else made inside {@code inner} is released when it
     * closes.
     *
     * @param <P> the handle's type
     * @param inner the caller's own scope, still open, that {@code result} was made in
     * @param result the handle to keep
     * @return {@code result}
     */
    public static <P extends Pointer> P escape(PointerScope inner, P result) {
        Iterator<PointerScope> scopes = PointerScope.getScopeIterator();
        while (scopes != null && scopes.hasNext()) {
            PointerScope scope = scopes.next();
            if (scope != inner && accepts(scope, result)) {
                scope.attach(result);
                return result;
            }
        }
        result.retainReference();
        return result;
    }

    /**
     * Takes one reference of {@code handle} for the caller, who gives it back with
     * {@link Pointer#releaseReference()} (which frees it when no scope holds it any more). Make the handle
     * inside a scope of your own and close that scope: the handle then survives with exactly this reference,
     * whatever scopes the caller of your code has open.
     *
     * @param <P> the handle's type
     * @param handle the handle to keep
     * @return {@code handle}, with one more reference
     */
    public static <P extends Pointer> P retained(P handle) {
        handle.retainReference();
        return handle;
    }

    private static boolean accepts(PointerScope scope, Pointer pointer) {
        Class<? extends Pointer>[] classes = scope.forClasses();
        if (classes == null || classes.length == 0) {
            return true;
        }
        for (Class<? extends Pointer> c : classes) {
            if (c.isInstance(pointer)) {
                return true;
            }
        }
        return false;
    }
}
