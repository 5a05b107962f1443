def page(*a):
    pass


run = run_page = stop = rename = delete = page
